-- Quotas: each tenant's submit token bucket, and its jobs queued or running, kept by a trigger so that admission
-- reads one row instead of counting the tenant's queue.
create table tenant_bucket (
    tenant  varchar(64)       primary key,
    tokens  double precision  not null,
    at      timestamptz       not null
);

create table tenant_usage (
    tenant  varchar(64)  primary key,
    active  integer      not null      -- jobs QUEUED or RUNNING
);

insert into tenant_usage (tenant, active)
select tenant, count(*) from job where status in ('QUEUED', 'RUNNING') group by tenant;

-- every write that moves a job into or out of QUEUED/RUNNING, whichever code path makes it
create function job_usage() returns trigger language plpgsql as $$
declare
    was_active boolean := tg_op in ('UPDATE', 'DELETE') and old.status in ('QUEUED', 'RUNNING');
    is_active  boolean := tg_op in ('INSERT', 'UPDATE') and new.status in ('QUEUED', 'RUNNING');
begin
    if is_active and not was_active then
        insert into tenant_usage as u (tenant, active) values (new.tenant, 1)
            on conflict (tenant) do update set active = u.active + 1;
    elsif was_active and not is_active then
        update tenant_usage set active = active - 1 where tenant = old.tenant;
    end if;
    return null;
end
$$;

create trigger job_usage after insert or update of status or delete on job
    for each row execute function job_usage();
