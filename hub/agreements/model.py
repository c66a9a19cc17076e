"""The information-sharing agreement as a typed model.

An agreement says who shares what with the hub, why, under which law, and what the hub does to
every field. YAML files in ``contracts/`` are parsed into these models; the pipeline, the DAGs and
the publication step are driven by them and by nothing else.

The file holds the *terms*: what the parties sign. Where an agreement is in its lifecycle (awaiting
approval, approved, suspended, revoked) and who signed it are kept by the hub's metadata store and
described by ``LifecycleRecord`` in ``hub.agreements.lifecycle``; they are not part of the file,
because a status change must never change what was signed. The JSON Schema in
``contracts/agreement.schema.json`` is generated from ``Agreement`` (``hub agreement schema``).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Status(StrEnum):
    """Where one version of an agreement is in its lifecycle (kept by the store, not the file)."""

    DRAFT = "draft"  # a file the hub has not been asked to approve
    AWAITING_APPROVAL = "awaiting_approval"  # submitted; not every required signature is in
    APPROVED = "approved"  # signed by the provider's and the hub controller's leads
    SUSPENDED = "suspended"  # approved, but paused by a party's lead
    REVOKED = "revoked"  # ended by a party's lead; final
    SUPERSEDED = "superseded"  # a later version was approved
    ALTERED = "altered"  # the file differs from the version submitted: tampered or edited


class Role(StrEnum):
    CONTROLLER = "controller"
    JOINT_CONTROLLER = "joint_controller"
    PROCESSOR = "processor"


class Classification(StrEnum):
    DIRECT_IDENTIFIER = "direct_identifier"
    QUASI_IDENTIFIER = "quasi_identifier"
    SPECIAL_CATEGORY = "special_category"
    CRIMINAL_OFFENCE = "criminal_offence"
    OPERATIONAL = "operational"
    FREE_TEXT = "free_text"


class Treatment(StrEnum):
    PSEUDONYMISE = "pseudonymise"  # normalise, keyed-hash into the linkage zone; nothing in staging
    GENERALISE = "generalise"  # a coarser value in staging (and optionally a token for linkage)
    KEEP = "keep"  # typed value kept as sent
    DROP = "drop"  # never stored


class IdentifierType(StrEnum):
    NHS_NUMBER = "nhs_number"
    UPN = "upn"
    PNC_ID = "pnc_id"
    FORENAME = "forename"
    SURNAME = "surname"
    DATE_OF_BIRTH = "date_of_birth"
    POSTCODE = "postcode"
    SEX = "sex"
    LOCAL_PERSON_ID = "local_person_id"  # a partner's own person or case reference
    RECORD_ID = "record_id"  # a partner's own record reference (crime, attendance, incident)


class GeneraliseRule(StrEnum):
    AGE_BAND = "age_band"  # date of birth -> age band at the event date
    AGE = "age"  # date of birth -> age in whole years at the event date
    BIRTH_YEAR = "birth_year"
    POSTCODE_DISTRICT = "postcode_district"
    LSOA = "lsoa"  # postcode -> LSOA through the reference lookup
    DATE = "date"  # timestamp -> date
    WEEK = "week"  # date -> Monday of its ISO week
    MONTH = "month"
    HOUR = "hour"  # timestamp or time -> hour of day
    AGE_BAND_FROM_AGE = "age_band_from_age"  # an age in years -> age band


FieldType = Literal["string", "integer", "boolean", "flag", "date", "datetime", "time"]


class Severity(StrEnum):
    """What a failed quality rule does: quarantine the extract, or pass with a note."""

    CRITICAL = "critical"
    WARNING = "warning"


class DataProtectionLead(_Strict):
    """The named person who approves (signs) agreements for a party."""

    name: str = Field(min_length=2)
    title: str
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Party(_Strict):
    org: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    role: Role
    data_protection_lead: DataProtectionLead


class LawfulBasis(_Strict):
    article6: str
    article9: str | None = None
    article10: str | None = None
    statutory_gateway: str


class Delivery(_Strict):
    format: Literal["csv", "parquet", "ndjson"]
    schedule: str  # cron expression: when each extract is expected by (in ``timezone``)
    timezone: str = "Europe/London"
    late_after_hours: int = Field(default=48, ge=1)  # how long after that a feed is late
    date_format: str | None = None  # strptime format partners use for dates (default ISO)


class FieldQuality(_Strict):
    """Quality rules for one field, checked on every extract (Great Expectations suites are
    generated from them). Values are never quoted in the results, only counted and located."""

    allowed_values: tuple[str, ...] = ()
    pattern: str | None = None  # a regular expression the value must match in full
    minimum: float | None = None
    maximum: float | None = None
    unique: bool = False
    not_in_future: bool = False  # dates and timestamps: not after the day the extract arrives
    severity: Severity = Severity.WARNING


class CrossFieldRule(_Strict):
    """A rule between two fields of one row, e.g. the assault happened before the arrival."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    field: str
    must_be: Literal["on_or_before", "on_or_after", "before", "after"]
    other: str
    severity: Severity = Severity.WARNING


class FieldSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    # the column's name in the partner's file when it differs from ``name`` (e.g. "Crime ID");
    # the hub reads that column and calls it ``name`` from then on
    column: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f,\"]+$"
    )
    type: FieldType = "string"
    classification: Classification
    treatment: Treatment
    identifier: IdentifierType | None = None
    rule: GeneraliseRule | None = None
    relative_to: str | None = None  # the event field an age is computed at
    output: str | None = None  # name of the generalised column in staging (default name_rule)
    required: bool = False
    formats: tuple[str, ...] = ()  # accepted strptime formats for date/datetime/time fields
    justification: str | None = None  # why free text or special category data is kept
    quality: FieldQuality | None = None
    age_bands: tuple[int, ...] = ()  # lower bounds of the age bands (default: the partnership's)

    @model_validator(mode="after")
    def _treatment_is_complete(self) -> FieldSpec:
        if self.treatment is Treatment.PSEUDONYMISE and self.identifier is None:
            raise ValueError(f"field {self.name}: pseudonymise needs an identifier type")
        if self.treatment is Treatment.GENERALISE and self.rule is None:
            raise ValueError(f"field {self.name}: generalise needs a rule")
        return self

    @property
    def source_column(self) -> str:
        """The column's name in the partner's file."""
        return self.column if self.column is not None else self.name

    @property
    def staged_name(self) -> str | None:
        """The column this field becomes in staging, or None when nothing of it is staged."""
        if self.treatment is Treatment.KEEP:
            return self.name
        if self.treatment is Treatment.GENERALISE and self.rule is not None:
            return self.output or f"{self.name}_{self.rule.value}"
        return None


class LinkageKey(_Strict):
    """A composite key built from identifier types, e.g. surname + forename initial + dob + sex."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    parts: tuple[str, ...]


class Retention(_Strict):
    landing_days: int = Field(ge=0)
    staging_days: int = Field(ge=1)
    linkage_days: int = Field(ge=1)
    published_days: int = Field(ge=1)


HUB_SUPPRESS_AT_OR_BELOW = 7  # the hub's disclosure-control defaults; agreements may be stricter
HUB_ROUND_TO = 5
LANDING_DAYS_MAX = 30  # raw extracts wait in the landing zone only until they are staged


class Disclosure(_Strict):
    """Statistical disclosure control on every analyst-facing aggregate. Values looser than the
    hub's defaults are refused by ``hub agreement lint`` and by the loader."""

    suppress_at_or_below: int = HUB_SUPPRESS_AT_OR_BELOW
    round_to: int = HUB_ROUND_TO


class LongitudinalProject(_Strict):
    """A named project whose analysts may follow the same people from one release to the next.

    Without one, person keys are derived afresh for every release, so releases cannot be joined.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    purpose: str
    until: date | None = None  # the project's approval ends (default: the agreement's validity)


class OutputAccess(_Strict):
    """Who may use the hub's outputs from this agreement, and for what."""

    who: str
    purpose: str
    row_level: bool = False  # pseudonymised row-level data, not only aggregates


class Flag(_Strict):
    """How a release flag is read from a staged field: a flag field, or a field equal to a value."""

    field: str
    equals: str | None = None


class Publication(_Strict):
    """How staged rows of this agreement become events of the linked release."""

    role: str | None = None  # a constant role, e.g. "patient"
    role_field: str | None = None  # or a field giving it, e.g. involvement (Victim/Suspect)
    event_type: str | None = None
    event_type_field: str | None = None
    offence_code_field: str | None = None
    event_date_field: str
    event_hour_field: str | None = None
    area_field: str | None = None
    age_band_field: str | None = None
    sex_field: str | None = None
    home_area_field: str | None = None
    flags: dict[str, Flag] = Field(default_factory=dict)


class Agreement(_Strict):
    """One information-sharing agreement, in one version: the terms the parties sign."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: int = Field(ge=1)
    title: str
    provider: str
    hub_controller: str
    parties: tuple[Party, ...]
    purpose: str
    lawful_basis: LawfulBasis
    data_subjects: tuple[str, ...]
    valid_from: date
    valid_until: date
    review_date: date
    delivery: Delivery
    fields: tuple[FieldSpec, ...]
    quality_rules: tuple[CrossFieldRule, ...] = ()
    linkage_keys: tuple[LinkageKey, ...] = ()
    retention: Retention
    onward_sharing: str
    output_access: tuple[OutputAccess, ...]
    longitudinal_projects: tuple[LongitudinalProject, ...] = ()
    disclosure: Disclosure = Disclosure()
    publication: Publication
    change_note: str | None = None  # what this version changes, in the author's words

    def party(self, org: str) -> Party:
        for party in self.parties:
            if party.org == org:
                return party
        raise KeyError(org)

    @property
    def signing_orgs(self) -> tuple[str, ...]:
        """Organisations whose data protection lead must sign: the provider and the hub
        controller (one org when the provider runs the hub itself)."""
        return tuple(dict.fromkeys((self.provider, self.hub_controller)))

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def received_fields(self) -> tuple[str, ...]:
        """Columns the partner sends, in agreement order (dropped ones included: they are read
        and discarded, never stored)."""
        return tuple(f.name for f in self.fields)

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def received_columns(self) -> tuple[str, ...]:
        """The columns as the partner's file names them, in agreement order."""
        return tuple(f.source_column for f in self.fields)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(f.source_column for f in self.fields if f.required)

    def renamed_columns(self) -> dict[str, str]:
        """The partner's column name -> the field name, for the columns named differently."""
        return {f.column: f.name for f in self.fields if f.column not in (None, f.name)}

    def identifier_fields(self) -> dict[IdentifierType, str]:
        """Identifier type -> the field carrying it."""
        return {f.identifier: f.name for f in self.fields if f.identifier is not None}
