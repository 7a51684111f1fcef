-- Jobs: PostgreSQL is the source of truth for every job's status.
create table job (
    id               uuid primary key,
    model            varchar(128)  not null,
    status           varchar(16)   not null check (status in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    params           jsonb         not null,
    idempotency_key  varchar(255)  unique,
    request_hash     char(64),
    attempt          integer       not null default 0,
    worker_id        varchar(255),
    lease_until      timestamptz,
    cancel_requested boolean       not null default false,
    step             integer       not null default 0,
    total_steps      integer       not null,
    created_at       timestamptz   not null,
    started_at       timestamptz,
    finished_at      timestamptz,
    error_code       varchar(64),
    error_message    text,
    images           jsonb
);

create index job_queue_idx on job (model, created_at) where status = 'QUEUED';
create index job_created_idx on job (created_at desc, id desc);
create index job_status_created_idx on job (status, created_at desc, id desc);

-- Transactional outbox: rows written with the job, published to Kafka by the relay, then deleted.
create table outbox (
    id         bigserial    primary key,
    topic      varchar(255) not null,
    record_key varchar(255) not null,
    payload    text         not null,
    created_at timestamptz  not null default now()
);

-- Models the workers serve, with the defaults and limits requests are checked against.
create table model (
    name         varchar(128) primary key,
    hash         varchar(64)  not null,
    settings     jsonb        not null,
    updated_at   timestamptz  not null,
    last_seen_at timestamptz  not null
);
