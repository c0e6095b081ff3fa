"""Input string types shared by the leads, accounts and activities schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from app.core.timeinput import AwareDateTime


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it as bad input instead of failing later.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def text(max_length: int, min_length: int = 0) -> Any:
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
    ]


Name = text(100)
ShortText = text(200)
LongText = text(300)
Body = text(20_000)


def validate_whole(model: Any, data: dict[str, Any]) -> Any:
    """Validate a merged PATCH result; pydantic errors become a 422 problem with field paths."""
    from pydantic import ValidationError

    from app.core.errors import Unprocessable

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise Unprocessable("The change would leave the record invalid", errors=errors) from None


# Date-times in bodies and query filters: ISO 8601 with a zone, in range (app/core/timeinput.py).
QueryDateTime = AwareDateTime
