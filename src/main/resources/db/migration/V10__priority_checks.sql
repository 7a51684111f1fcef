-- A priority is a rank of Priority: 0 low, 1 normal, 2 high.
alter table job add constraint job_priority_rank check (priority between 0 and 2);
alter table api_key add constraint api_key_max_priority_rank check (max_priority between 0 and 2);
