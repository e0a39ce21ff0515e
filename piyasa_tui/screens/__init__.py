"""Screens of the control centre: the dashboard and its modals."""
