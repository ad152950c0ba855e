"""The read side: what runs and what the server holds, as typed data for the views."""
