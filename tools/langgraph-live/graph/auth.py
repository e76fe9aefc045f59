"""An auth handler for the live tests' auth scenario: only `x-api-key: $WFCANCEL_LIVE_API_KEY`
is let in (401 otherwise), as on LangGraph Platform."""

import hmac
import os

from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate(headers: dict) -> str:
    want = os.environ.get("WFCANCEL_LIVE_API_KEY", "").encode()
    got = headers.get(b"x-api-key") or b""
    if not want or not hmac.compare_digest(got, want):
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid API key")
    return "wfcancel-live"
