"""Identifier normalisers: canonical form or a fixed reason code, on whole pyarrow arrays.

Every normaliser takes a pyarrow array (string, large string, dictionary, null-typed; integers for
NHS numbers; date32/timestamp for dates of birth) and returns a :class:`Normalised` whose
``values`` hold the canonical strings and whose ``reasons`` hold, per row, null (valid),
``"missing"`` or a fixed reason code. Bad data never raises, and no value ever appears in a
reason, message or log line. ``docs/normalisation.md`` gives the canonical forms and the reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from hub.privacy.normalise.dates import (
    DATE_FORMATS,
    DATE_OF_BIRTH_REASONS,
    DEFAULT_DATE_FORMATS,
    date_of_birth,
    date_of_birth_one,
)
from hub.privacy.normalise.names import (
    NAME_REASONS,
    PREFIXES,
    TITLES,
    default_nicknames,
    forename,
    forename_one,
    name_initial,
    name_initial_one,
    person_name,
    person_name_one,
    surname,
    surname_one,
)
from hub.privacy.normalise.nhs import NHS_NUMBER_REASONS, nhs_number, nhs_number_one
from hub.privacy.normalise.pnc import PNC_ID_REASONS, pnc_id, pnc_id_one
from hub.privacy.normalise.postcode import (
    POSTCODE_REASONS,
    postcode,
    postcode_district,
    postcode_district_one,
    postcode_one,
)
from hub.privacy.normalise.result import MISSING, Normalised, NormalisedValue
from hub.privacy.normalise.sex import SEX_CODES, SEX_REASONS, sex, sex_one
from hub.privacy.normalise.upn import UPN_REASONS, upn, upn_one

# Every reason code each normaliser can give, "missing" included.
REASONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "nhs_number": NHS_NUMBER_REASONS,
        "upn": UPN_REASONS,
        "pnc_id": PNC_ID_REASONS,
        "person_name": NAME_REASONS,
        "forename": NAME_REASONS,
        "surname": NAME_REASONS,
        "name_initial": NAME_REASONS,
        "date_of_birth": DATE_OF_BIRTH_REASONS,
        "postcode": POSTCODE_REASONS,
        "postcode_district": POSTCODE_REASONS,
        "sex": SEX_REASONS,
    }
)

__all__ = [
    "DATE_FORMATS",
    "DATE_OF_BIRTH_REASONS",
    "DEFAULT_DATE_FORMATS",
    "MISSING",
    "NAME_REASONS",
    "NHS_NUMBER_REASONS",
    "PNC_ID_REASONS",
    "POSTCODE_REASONS",
    "PREFIXES",
    "REASONS",
    "SEX_CODES",
    "SEX_REASONS",
    "TITLES",
    "UPN_REASONS",
    "Normalised",
    "NormalisedValue",
    "date_of_birth",
    "date_of_birth_one",
    "default_nicknames",
    "forename",
    "forename_one",
    "name_initial",
    "name_initial_one",
    "nhs_number",
    "nhs_number_one",
    "person_name",
    "person_name_one",
    "pnc_id",
    "pnc_id_one",
    "postcode",
    "postcode_district",
    "postcode_district_one",
    "postcode_one",
    "sex",
    "sex_one",
    "surname",
    "surname_one",
    "upn",
    "upn_one",
]
