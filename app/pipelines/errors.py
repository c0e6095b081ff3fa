"""The pipelines domain's problem types (stable `code`s clients can branch on)."""

from app.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)


class PipelineNotFound(NotFound):
    code, title = "pipeline-not-found", "Pipeline not found"


class StageNotFound(NotFound):
    code, title = "stage-not-found", "Stage not found"


class LostReasonNotFound(NotFound):
    code, title = "lost-reason-not-found", "Lost reason not found"


class OpportunityNotFound(NotFound):
    code, title = "opportunity-not-found", "Opportunity not found"


class InvalidPipeline(Unprocessable):
    code, title = "invalid-pipeline", "The pipeline definition is not valid"


class StageInUse(Conflict):
    code, title = "stage-in-use", "The stage still holds open deals"


class NoDefaultPipeline(Conflict):
    code, title = "no-default-pipeline", "The organisation has no default pipeline"


class CriteriaUnmet(Unprocessable):
    code, title = "stage-criteria-unmet", "The deal does not meet the entry criteria of the target stage"


class ReasonRequired(Unprocessable):
    code, title = "reason-required", "A reason is required for this move"


class LostReasonRequired(Unprocessable):
    code, title = "lost-reason-required", "Moving into a lost stage needs a lost reason from the catalogue"


class InvalidTransition(Unprocessable):
    code, title = "invalid-transition", "This move is not allowed"


class OpportunityClosed(Conflict):
    code, title = "opportunity-closed", "The deal is won or lost; reopen it first"


class AlreadyInStage(Conflict):
    code, title = "already-in-stage", "The deal is already in that stage"


class OtherPipeline(Conflict):
    code, title = "stage-of-other-pipeline", "The stage belongs to another pipeline; set change_pipeline to move"


class ConcurrentChange(Conflict):
    code, title = "concurrent-change", "The deal was changed by someone else at the same time; reload and retry"


class StaleVersion(PreconditionFailed):
    code, title = "precondition-failed", "The resource changed since you read it"


class InvalidTime(Unprocessable):
    code, title = "invalid-time", "The time given is out of bounds"


class AdminOnly(Forbidden):
    code, title = "admin-only", "Only an administrator may do this"

