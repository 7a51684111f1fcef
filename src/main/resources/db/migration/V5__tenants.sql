-- Tenants: API keys (stored only as a hash) and the tenant that owns each job and sweep.
create table api_key (
    id          uuid primary key,
    tenant      varchar(64)  not null,
    key_hash    bytea        not null unique,   -- SHA-256 of the key; the key itself is shown once and never stored
    prefix      varchar(16)  not null,          -- its first characters, to tell keys apart in a listing
    scopes      varchar(64)  not null,          -- comma-separated: jobs, admin
    created_at  timestamptz  not null,
    revoked_at  timestamptz
);

alter table job add column tenant varchar(64) not null default 'local';
alter table sweep add column tenant varchar(64) not null default 'local';

-- an Idempotency-Key is the tenant's own: two tenants may use the same one
alter table job drop constraint job_idempotency_key_key;
create unique index job_tenant_idempotency_idx on job (tenant, idempotency_key) where idempotency_key is not null;
create index job_tenant_created_idx on job (tenant, created_at desc, id desc);
