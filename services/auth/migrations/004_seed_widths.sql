-- users.role is VARCHAR(50) in the seed (database-design.md §3.1); 001 made it
-- VARCHAR(20). Widening a varchar keeps the rows, idx_users_role_id and the
-- CHECK of the four roles as they are (PostgreSQL re-checks the CHECK with one
-- read of the table, no rewrite).
ALTER TABLE users ALTER COLUMN role TYPE VARCHAR(50);
