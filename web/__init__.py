"""The Mini App (the manager's portal): a page Telegram opens inside the chat, and its JSON
endpoints; another front end on core's use cases, signed in by Telegram's init data."""
