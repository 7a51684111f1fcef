-- Sweeps: a base recipe and one or two axes, fanned out into ordinary jobs (one per cell) under one id.
create table sweep (
    id              uuid primary key,
    model           varchar(128) not null,
    plan            jsonb        not null,      -- {"base": {...}, "x": {"field", "values"}, "y": {...}}
    columns         integer      not null,
    rows            integer      not null,
    created_at      timestamptz  not null,
    grid_key        varchar(255),               -- the grid PNG's object key, once stored
    grid_claimed_at timestamptz,                -- when a replica began drawing the grid (a stale claim is retaken)
    grid_error      text                        -- why the grid could not be drawn
);

alter table job add column sweep_id   uuid references sweep (id);
alter table job add column sweep_cell integer;  -- the cell, row-major: row * columns + column

create index job_sweep_idx on job (sweep_id, sweep_cell) where sweep_id is not null;
create index sweep_grid_pending_idx on sweep (created_at) where grid_key is null and grid_error is null;
