-- Fair scheduling: a job is held in PostgreSQL until the dispatcher releases it to Kafka, in priority order and
-- round-robin across tenants, as workers have room; a key says how high a priority its jobs may ask for.
alter table job add column held boolean not null default false;
alter table job add column priority smallint not null default 1;   -- 0 low, 1 normal, 2 high
alter table api_key add column max_priority smallint not null default 1;

create index job_held_idx on job (model, priority desc, tenant, created_at, id) where held and status = 'QUEUED';
-- released and not yet claimed: what the dispatcher keeps ahead of the workers
create index job_released_idx on job (model) where status = 'QUEUED' and not held;
