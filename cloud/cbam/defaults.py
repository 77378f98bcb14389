"""The EU CBAM default values greenwire knows (``data/cbam.yaml``), every one with its source and year."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from greenwire.shared.yamlconfig import load_model

CBAM_FILE: Final = Path(__file__).parent / "data" / "cbam.yaml"

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def normal_cn(code: str) -> str:
    """A CN code without spaces, so '7207 19 19' and '72071919' are one code."""
    return code.replace(" ", "")


class DefaultValue(BaseModel):
    """The Commission's default specific embedded emissions of a good from one country."""

    model_config = _FROZEN

    cn_code: str = Field(min_length=4)
    description: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    see_direct: float = Field(ge=0, description="tCO2e per tonne, without mark-up.")
    see_indirect: float = Field(ge=0, description="tCO2e per tonne, without mark-up.")
    markup: dict[int, float] = Field(default_factory=dict, description="Year -> total value with that year's mark-up.")
    year: int = Field(ge=2023, le=2100)
    source: str = Field(min_length=1)
    verification: Literal["copied_file", "cell_transcription", "agreeing_transcriptions", "single_transcription"]
    note: str = ""


class CbamData(BaseModel):
    model_config = _FROZEN

    version: str = Field(min_length=1)
    default_values: tuple[DefaultValue, ...] = Field(min_length=1)

    def default(self, cn_code: str, country: str) -> DefaultValue:
        """The default value of that good and country; KeyError naming the known ones if there is none."""
        for value in self.default_values:
            if normal_cn(value.cn_code) == normal_cn(cn_code) and value.country == country:
                return value
        known = ", ".join(f"{v.cn_code} ({v.country})" for v in self.default_values)
        raise KeyError(f"no EU default value for CN {cn_code} from {country} in {CBAM_FILE.name}; known: {known} "
                       "(give the supplier's values instead)")


@lru_cache(maxsize=1)
def load_cbam_data(path: Path = CBAM_FILE) -> CbamData:
    """The CBAM data file (validated; a ConfigError names the line of any problem)."""
    return load_model(path.read_text(encoding="utf-8"), CbamData, source=str(path))
