-- A submit counts its own jobs in the one statement that admits them, at the end of its transaction (Quotas), so
-- the tenant's usage row is locked from that statement to the commit only, not from the job's insert on: one
-- tenant's submits then queue on that row for two round trips each instead of the whole transaction. Every other
-- write (status changes, deletes, rows inserted outside a submit) is still counted here.
create or replace function job_usage() returns trigger language plpgsql as $$
declare
    was_active boolean := tg_op in ('UPDATE', 'DELETE') and old.status in ('QUEUED', 'RUNNING');
    is_active  boolean := tg_op in ('INSERT', 'UPDATE') and new.status in ('QUEUED', 'RUNNING');
begin
    if tg_op = 'INSERT' and current_setting('denoise.admitting', true) = 'on' then
        return null;
    end if;
    if is_active and not was_active then
        insert into tenant_usage as u (tenant, active) values (new.tenant, 1)
            on conflict (tenant) do update set active = u.active + 1;
    elsif was_active and not is_active then
        update tenant_usage set active = active - 1 where tenant = old.tenant;
    end if;
    return null;
end
$$;
