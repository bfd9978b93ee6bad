"""Function settings: one pydantic model per function, parsed once at cold start."""

import os

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Settings(BaseModel):
    """What every function needs; each function's model adds its own fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(alias="TABLE_NAME", min_length=1)

    @classmethod
    def from_env[S: "Settings"](cls: type[S]) -> S:
        try:
            return cls.model_validate(dict(os.environ))
        except ValidationError as error:
            wrong = ", ".join(
                f"{e['loc'][0]} ({e['msg']})" if e["loc"] else e["msg"]
                for e in error.errors(include_url=False)
            )
            raise RuntimeError(f"{cls.__name__}: missing or invalid settings: {wrong}") from None
