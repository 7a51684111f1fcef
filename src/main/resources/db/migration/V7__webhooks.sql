-- Signed webhooks: a job may name a URL and the events it wants; each event becomes a durable delivery row, written
-- by a trigger in the same transaction as the job's change that makes it, whichever code path writes it.
alter table job add column webhook_url varchar(2048);
alter table job add column webhook_events varchar(64);   -- comma-separated: started, progress, completed

-- each tenant's signing secret (Standard Webhooks: whsec_ + base64 of 32 random bytes)
create table webhook_secret (
    tenant      varchar(64)   primary key,
    secret      varchar(128)  not null,
    created_at  timestamptz   not null
);

create table webhook_delivery (
    id               uuid          primary key default gen_random_uuid(),   -- the webhook-id header
    seq              bigserial     not null,                                -- deliveries of a job go out in this order
    job_id           uuid          not null references job (id) on delete cascade,
    tenant           varchar(64)   not null,
    url              varchar(2048) not null,
    type             varchar(32)   not null,   -- job.started, job.progress, job.completed
    attempt          integer       not null,   -- the job's attempt when the event happened
    step             integer       not null,
    created_at       timestamptz   not null default now(),
    payload          text,                     -- fixed at the first try, so every retry sends the same body
    state            varchar(16)   not null default 'PENDING',   -- PENDING, DELIVERED, FAILED
    tries            integer       not null default 0,
    next_try_at      timestamptz   not null default now(),
    last_status      integer,
    last_error       varchar(500),
    delivered_at     timestamptz
);
create index webhook_delivery_due_idx on webhook_delivery (next_try_at) where state = 'PENDING';
create index webhook_delivery_job_idx on webhook_delivery (job_id, seq);

create function job_webhook() returns trigger language plpgsql as $$
declare
    events text := ',' || coalesce(new.webhook_events, '') || ',';
    was    text := case when tg_op = 'UPDATE' then old.status end;
begin
    if new.webhook_url is null then
        return null;
    end if;
    if new.status = 'RUNNING' and (was is distinct from 'RUNNING' or old.attempt <> new.attempt)
       and events like '%,started,%' then
        insert into webhook_delivery (job_id, tenant, url, type, attempt, step)
        values (new.id, new.tenant, new.webhook_url, 'job.started', new.attempt, new.step);
    elsif new.status = 'RUNNING' and was = 'RUNNING' and old.attempt = new.attempt and new.step > old.step
       and events like '%,progress,%' then
        insert into webhook_delivery (job_id, tenant, url, type, attempt, step)
        values (new.id, new.tenant, new.webhook_url, 'job.progress', new.attempt, new.step);
    end if;
    if new.status in ('SUCCEEDED', 'FAILED', 'CANCELLED') and (was is null or was not in ('SUCCEEDED', 'FAILED', 'CANCELLED'))
       and events like '%,completed,%' then
        insert into webhook_delivery (job_id, tenant, url, type, attempt, step)
        values (new.id, new.tenant, new.webhook_url, 'job.completed', new.attempt, new.step);
    end if;
    return null;
end
$$;

create trigger job_webhook after insert or update of status, step, attempt on job
    for each row execute function job_webhook();
