-- Quotas: each tenant's submit token bucket, and a quick count of its jobs queued or running.
create table tenant_bucket (
    tenant  varchar(64)       primary key,
    tokens  double precision  not null,
    at      timestamptz       not null
);

create index job_tenant_active_idx on job (tenant) where status in ('QUEUED', 'RUNNING');
