-- Fills the leads service's `leads` table with realistic leads for benchmarks
-- (services/leads/README.md, "Benchmark"). Run it as the service's own role
-- against its database, after the service has applied its migrations:
--
--   psql 'host=127.0.0.1 port=25432 dbname=crm_leads user=crm_leads passfile=.crm/secrets/pgpass' \
--     -X -v agents=7,8,9 [-v n=1000000] [-v batch=100000] -f tools/bench/leads_fill.sql
--
-- (tools/bench/leads_bench.sh does exactly this when the table has fewer
-- than N rows.) Variables:
--   agents  required: the agent user ids (auth's demo agents), comma-separated
--   n       leads to add (default 1000000), ids after the current highest
--   batch   rows per INSERT, each its own transaction (default 100000)
--
-- Through SQL only (INSERT ... SELECT ... FROM generate_series), with every
-- index in place, then VACUUM (ANALYZE). Deterministic for the same n and batch
-- (setseed). The data, row by row:
--   name      first and last names (a few with accents), some middle initials
--   email     first.last.<id>@example.{com,net,org} (unique), some capitalised;
--             email_key lower-cased; ~4% phone-only leads have none
--   phone     US numbers in five spellings, phone_e164 '+1AAAEEELLLL'; ~5% are
--             unparseable (kept, phone_e164 NULL), ~9% have no phone
--   source    website 30%, zillow 24%, realtor_com 16%, referral 12%,
--             open_house 10%, manual 8%; external_id 'zl-<id>' / 'rdc-<id>'
--             for zillow and realtor_com (unique per source)
--   assigned  ~85% to the agents, skewed (the first gets ~45%), the rest in
--             the pond (unassigned); routing columns filled to match
--   status    unassigned: mostly NEW; assigned: NEW 22%, CONTACTED 30%,
--             NURTURING 22%, QUALIFIED 10%, APPOINTMENT_SET 5%,
--             UNDER_CONTRACT 3%, CLOSED_WON 3%, CLOSED_LOST 5%
--   text      ~60% a mailing address or contact preference (1 in 24 streets
--             is Maple, so free-text search has hits), ~40% notes
--   created   over the last 730 days, strictly increasing with id
-- It respects every CHECK and unique index of migrations/002_lead_intake.sql.
\set ON_ERROR_STOP on
\if :{?agents}
\else
DO $$ BEGIN RAISE EXCEPTION 'leads_fill: give the agent ids: -v agents=7,8,9'; END $$;
\endif
\if :{?n}
\else
\set n 1000000
\endif
\if :{?batch}
\else
\set batch 100000
\endif

SET synchronous_commit = off;
-- Larger GIN pending lists merge into the trigram index in fewer, bigger steps.
SET gin_pending_list_limit = '64MB';
SET work_mem = '128MB';

SELECT coalesce(max(id), 0) AS base, string_to_array(:'agents', ',')::int8[] AS agent_ids,
       (now() - interval '730 days') AS t0, (interval '730 days' / :n) AS step
FROM leads \gset
SELECT setseed(0.4242) AS seeded \gset

\echo leads_fill: adding :n leads after id :base in batches of :batch (agents :agent_ids)
\timing on
SELECT format($sql$
INSERT INTO leads (id, name, contact_info, status, assigned_to, created_at, updated_at, email,
                   email_key, phone, phone_e164, source, external_id, notes, property_id,
                   property_mls_id, version, assigned_at, routing_rule, routed_to,
                   routing_reason, routing_candidates, routed_at)
SELECT id, name, contact_info, status, agent, created_at, updated_at, email,
       CASE WHEN email <> '' THEN lower(email) END, phone, phone_e164, source,
       CASE source WHEN 'zillow' THEN 'zl-' || id WHEN 'realtor_com' THEN 'rdc-' || id END,
       notes, property_id, CASE WHEN property_id IS NOT NULL THEN 'MLS' || (400000 + property_id) END,
       version, CASE WHEN agent IS NOT NULL THEN least(now(), created_at + r_assign * interval '2 hours') END,
       CASE WHEN agent IS NULL THEN NULL
            WHEN source IN ('zillow', 'realtor_com', 'website') THEN 'round_robin'
            ELSE 'manual' END,
       agent,
       CASE WHEN agent IS NULL THEN NULL
            WHEN source IN ('zillow', 'realtor_com', 'website')
              THEN 'next of ' || cardinality(%4$L::int8[]) || ' active agents in rotation'
            ELSE 'assigned by an admin on creation' END,
       CASE WHEN agent IS NOT NULL AND source IN ('zillow', 'realtor_com', 'website')
            THEN %4$L::int8[] END,
       CASE WHEN agent IS NOT NULL THEN least(now(), created_at + r_assign * interval '2 hours') END
FROM (
  SELECT id, created_at, source, agent, status, r_assign,
         first || CASE WHEN r_mid < 0.12 THEN ' ' || chr(65 + (r_mid * 200)::int %% 26) || '.' ELSE '' END
           || ' ' || last AS name,
         CASE WHEN r_email < 0.04 THEN ''
              ELSE CASE WHEN r_case < 0.2 THEN translate(first, 'éëöñíúü', 'eeoniuu') || '.' ||
                                              translate(last, 'éëöñíúü', 'eeoniuu')
                        ELSE lower(translate(first, 'éëöñíúü', 'eeoniuu')) || '.' ||
                             lower(translate(last, 'éëöñíúü', 'eeoniuu')) END
                   || '.' || id || '@' ||
                   CASE WHEN r_case < 0.2 THEN 'Example.' ELSE 'example.' END ||
                   (ARRAY['com', 'com', 'net', 'org'])[1 + (r_case * 1000)::int %% 4] END AS email,
         CASE WHEN r_phone < 0.09 AND r_email >= 0.04 THEN ''
              WHEN r_phone < 0.14 THEN '555-01' || (r_phone * 100)::int || ' ask for ' || first
              ELSE CASE (r_phone * 1000)::int %% 5
                     WHEN 0 THEN '(' || area || ') ' || exch || '-' || line
                     WHEN 1 THEN area || '-' || exch || '-' || line
                     WHEN 2 THEN '+1 ' || area || ' ' || exch || ' ' || line
                     WHEN 3 THEN area || '.' || exch || '.' || line
                     ELSE area || exch || line END END AS phone,
         CASE WHEN r_phone >= 0.14 THEN '+1' || area || exch || line END AS phone_e164,
         CASE WHEN r_text < 0.45
                THEN (100 + (r_text * 98765)::int %% 9800) || ' ' || street || ', ' || city
              WHEN r_text < 0.60
                THEN (ARRAY['prefers text after 6pm', 'call mornings only', 'email only, please',
                            'weekends are best', 'spouse: ' || last || ', same number'])
                       [1 + (r_text * 1000)::int %% 5] END AS contact_info,
         CASE WHEN r_notes < 0.40
                THEN (ARRAY['Looking for 3bd/2ba under $450k near good schools',
                            'Pre-approved with a local lender, wants to move by summer',
                            'Wants to sell the condo on ' || street || ' before buying',
                            'Relocating for work; needs a rental first',
                            'Asked about the open house on Sunday',
                            'First-time buyer, FHA loan',
                            'Investor, cash offers on multi-family',
                            'Downsizing; single-level homes only'])
                       [1 + (r_notes * 1000)::int %% 8] ELSE '' END AS notes,
         CASE WHEN r_prop < 0.30 THEN 1 + (r_prop * 1000003)::int %% 5000 END AS property_id,
         CASE WHEN status = 'NEW' THEN 1 ELSE 2 + (r_prop * 997)::int %% 5 END AS version,
         CASE WHEN status = 'NEW' THEN created_at
              ELSE least(now(), created_at + r_prop * interval '45 days') END AS updated_at
  FROM (
    SELECT id, created_at, source, agent, r_assign, r_mid, r_email, r_case, r_phone, r_text,
           r_notes, r_prop, first, last, street, city, area, exch, line,
           CASE WHEN agent IS NULL THEN
                  CASE WHEN r_status < 0.85 THEN 'NEW' WHEN r_status < 0.95 THEN 'NURTURING'
                       ELSE 'CLOSED_LOST' END
                WHEN r_status < 0.22 THEN 'NEW' WHEN r_status < 0.52 THEN 'CONTACTED'
                WHEN r_status < 0.74 THEN 'NURTURING' WHEN r_status < 0.84 THEN 'QUALIFIED'
                WHEN r_status < 0.89 THEN 'APPOINTMENT_SET' WHEN r_status < 0.92 THEN 'UNDER_CONTRACT'
                WHEN r_status < 0.95 THEN 'CLOSED_WON' ELSE 'CLOSED_LOST' END AS status
    FROM (
      SELECT i AS id,
             %5$L::timestamptz + (i - %6$s - 1) * %7$L::interval + r_t * 0.9 * %7$L::interval
               AS created_at,
             CASE WHEN r_src < 0.30 THEN 'website' WHEN r_src < 0.54 THEN 'zillow'
                  WHEN r_src < 0.70 THEN 'realtor_com' WHEN r_src < 0.82 THEN 'referral'
                  WHEN r_src < 0.92 THEN 'open_house' ELSE 'manual' END AS source,
             CASE WHEN r_agent < 0.85
                  THEN (%4$L::int8[])[1 + floor(cardinality(%4$L::int8[]) *
                                                power(r_agent / 0.85, 1.4))::int] END AS agent,
             r_assign, r_mid, r_email, r_case, r_phone, r_text, r_notes, r_prop, r_status,
             (ARRAY['James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael',
                    'Linda', 'David', 'Elizabeth', 'William', 'Barbara', 'Richard', 'Susan',
                    'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Carlos', 'Karen', 'Daniel',
                    'Lisa', 'Matthew', 'Nancy', 'Anthony', 'Sandra', 'Mark', 'Ashley',
                    'Wei', 'Priya', 'José', 'Zoë', 'Renée', 'Ahmed', 'Fatima', 'Hiroshi',
                    'Olga', 'Kwame', 'Aisha', 'Liam', 'Emma', 'Noah', 'Olivia', 'Ethan',
                    'Sofia', 'Mateo', 'Chloe', 'Lucas'])[1 + (r_name * 48)::int %% 48] AS first,
             (ARRAY['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller',
                    'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez',
                    'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin',
                    'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark',
                    'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King',
                    'Wright', 'Scott', 'Nguyen', 'Hill', 'Flores', 'Green', 'Núñez', 'Kim',
                    'Patel', 'Chen', 'Müller', 'O''Brien', 'Kowalski', 'Okafor'])
               [1 + (r_name * 48 * 48)::int %% 48] AS last,
             (ARRAY['Maple St', 'Oak Ave', 'Pine St', 'Cedar Ln', 'Elm St', 'Washington Blvd',
                    'Lake Dr', 'Hill Rd', 'Park Ave', 'Main St', 'Sunset Blvd', 'River Rd',
                    'Birch Way', 'Willow Ct', 'Highland Ave', 'Church St', 'Spring St',
                    'Lincoln Ave', 'Chestnut St', 'Walnut St', 'Meadow Ln', 'Forest Dr',
                    'Harbor View', 'Ridge Rd'])[1 + (r_street * 24)::int %% 24] AS street,
             (ARRAY['Springfield, IL 62701', 'Austin, TX 78704', 'Denver, CO 80205',
                    'Portland, OR 97214', 'Raleigh, NC 27601', 'Tampa, FL 33602',
                    'Columbus, OH 43215', 'Madison, WI 53703'])[1 + (r_street * 1000)::int %% 8]
               AS city,
             (ARRAY['212', '310', '312', '415', '512', '617', '702', '713', '206', '303',
                    '305', '404', '503', '602', '614', '704', '813', '919', '952', '978'])
               [1 + (r_area * 20)::int %% 20] AS area,
             (200 + (r_area * 799 * 20)::int %% 800)::text AS exch,
             lpad(((r_area * 1e8)::int8 %% 10000)::text, 4, '0') AS line
      FROM (
        SELECT i, random() AS r_t, random() AS r_src, random() AS r_agent,
               random() AS r_assign, random() AS r_mid, random() AS r_email,
               random() AS r_case, random() AS r_phone, random() AS r_text,
               random() AS r_notes, random() AS r_prop, random() AS r_status,
               random() AS r_name, random() AS r_street, random() AS r_area
        FROM generate_series(%1$s::int8, %2$s::int8) AS i
        OFFSET 0
      ) AS draws
    ) AS picked
  ) AS statused
) AS lead
ORDER BY id
$sql$, lo, hi, NULL, :'agent_ids', :'t0', :base, :'step')
FROM (SELECT lo, least(lo + :batch - 1, :base + :n) AS hi
      FROM generate_series(:base + 1, :base + :n, :batch) AS lo) AS batches
ORDER BY lo \gexec
\timing off

-- The identity continues after the rows given explicit ids.
SELECT setval(pg_get_serial_sequence('leads', 'id'), (SELECT max(id) FROM leads)) AS next_id_after;
-- ANALYZE for the planner; VACUUM as well, so that the trigram index's
-- pending list is merged (a search would otherwise scan it row by row) and the
-- visibility map and hint bits are set, as on a table that has lived a while.
\echo leads_fill: VACUUM (ANALYZE)
VACUUM (ANALYZE) leads;
SELECT count(*) AS leads, count(assigned_to) AS assigned, count(phone_e164) AS with_e164,
       count(external_id) AS with_external_id, min(created_at)::date AS first_created,
       max(created_at)::date AS last_created
FROM leads;
