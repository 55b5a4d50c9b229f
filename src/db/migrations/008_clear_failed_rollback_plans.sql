-- Failed rollbacks now remove their plan as they fail (JobHandler.cleanUp); this removes
-- what failed ones left behind before that.
DELETE FROM rollback_targets rt USING jobs j
WHERE j.workspace_id = rt.workspace_id AND j.id = rt.rollback_id AND j.status = 'failed';
