-- Version 3: indexes that let the findings page, the overview and a model's neighbourhood read
-- only what they show: findings a severity at a time in id order (the page's cursor), a rule's
-- findings the same way, open findings counted from the index alone, whether a file is held
-- now without reading the occurrence, and the models a file belongs to.

CREATE INDEX findings_severity ON findings (severity, id);
CREATE INDEX findings_open ON findings (severity, triage_state, triage_expires, file_id);
DROP INDEX findings_rule;
CREATE INDEX findings_rule ON findings (rule_id, severity, id);
DROP INDEX occurrences_file;
CREATE INDEX occurrences_file ON occurrences (file_id, current);
CREATE INDEX model_files_file ON model_files (file_id);
