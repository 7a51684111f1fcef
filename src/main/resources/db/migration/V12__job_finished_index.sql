-- The clearing rate admission reads every few seconds (jobs of a model that ended lately) by an index, not a scan
-- of every job ever run.
create index job_finished_idx on job (model, finished_at) where finished_at is not null;
