-- A job's stored request names its init image under "initImage" (the request's own field name), not "initImageKey".
update job
   set params = (params - 'initImageKey') || jsonb_build_object('initImage', params -> 'initImageKey')
 where params ? 'initImageKey';
