"""docker/compose.yaml's set-up run as processes on loopback, with nginx in front."""
