"""The pipelines domain's service API, for routers and other domains
(`from app.pipelines import service as pipeline_service`)."""

from app.pipelines.criteria import declare_external_check, register_external_check
from app.pipelines.opportunity_service import (
    create_opportunity,
    delete_opportunity,
    get_opportunity,
    list_opportunities,
    update_opportunity,
)
from app.pipelines.pipeline_service import (
    add_stage,
    create_default_pipeline,
    create_lost_reason,
    create_pipeline,
    get_pipeline,
    list_lost_reasons,
    list_pipelines,
    reorder_stages,
    update_lost_reason,
    update_pipeline,
    update_stage,
)
from app.pipelines.transitions import list_transitions, reopen, transition

__all__ = [
    "add_stage", "create_default_pipeline", "create_lost_reason", "create_opportunity", "create_pipeline",
    "declare_external_check", "delete_opportunity", "get_opportunity", "get_pipeline", "list_lost_reasons",
    "list_opportunities", "list_pipelines", "list_transitions", "register_external_check", "reopen",
    "reorder_stages", "transition", "update_lost_reason", "update_opportunity", "update_pipeline", "update_stage",
]
