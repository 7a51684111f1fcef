-- Recovery: what the relay knows of each job's Kafka record, so a job whose record is gone can be re-driven.
alter table job add column dispatched_at timestamptz;          -- when the relay last published the job's record
alter table job add column record_partition integer;           -- that record's partition in the model's jobs topic
alter table job add column record_offset bigint;               -- and its offset there
alter table job add column redrives      integer not null default 0;  -- records re-published by recovery
alter table job add column deliveries    integer not null default 0;  -- the broker's delivery count at the last claim

create index job_active_idx on job (coalesce(dispatched_at, created_at)) where status in ('QUEUED', 'RUNNING');
create index outbox_record_key_idx on outbox (record_key);
