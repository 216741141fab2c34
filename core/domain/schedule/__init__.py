"""Schedule rules: plan items and logs, plan vs log, check-in trust and the geofence, the
calendar, visit photos."""
