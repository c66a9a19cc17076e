"""People who sign in to the hub's web pages: passwords, users with one role each, and browser
sessions. Data protection leads review agreements; analysts (later) query releases."""

from hub.accounts.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from hub.accounts.sessions import SESSION_HOURS, end_session, session_user, start_session
from hub.accounts.users import (
    Role,
    add_user,
    authenticate,
    disable_user,
    get_user_by_email,
    list_users,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "SESSION_HOURS",
    "Role",
    "add_user",
    "authenticate",
    "disable_user",
    "end_session",
    "get_user_by_email",
    "hash_password",
    "list_users",
    "session_user",
    "start_session",
    "verify_password",
]
