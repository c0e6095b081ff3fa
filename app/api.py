"""Every domain's router, mounted under /v1. A new domain adds its router here."""

from fastapi import APIRouter

from app.accounts.router import router as accounts_router
from app.activities.router import router as activities_router
from app.analytics.alerts_router import router as alerts_router
from app.analytics.router import router as analytics_router
from app.core.errors import COMMON_ERROR_STATUSES, problem_responses
from app.core.idempotency import IdempotencyGuard
from app.feeds.router import router as feeds_router
from app.identity.router import router as identity_router
from app.leads.router import router as leads_router
from app.pipelines.router import opportunities_router, pipelines_router

api_router = APIRouter(
    prefix="/v1",
    responses=problem_responses(*COMMON_ERROR_STATUSES),
    dependencies=[IdempotencyGuard],
)

DOMAIN_ROUTERS: list[APIRouter] = [
    identity_router, feeds_router, pipelines_router, opportunities_router,
    leads_router, accounts_router, activities_router, analytics_router, alerts_router,
]

for domain_router in DOMAIN_ROUTERS:
    api_router.include_router(domain_router)
