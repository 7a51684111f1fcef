-- A rotated secret keeps signing beside the new one for a grace period, so receivers can switch without losing
-- deliveries (Standard Webhooks allows several space-separated signatures).
alter table webhook_secret add column previous_secret varchar(128);
alter table webhook_secret add column rotated_at timestamptz;
