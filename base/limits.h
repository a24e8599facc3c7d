/*
 * limits.h — every limit on untrusted input, in one place.
 *
 * Any size, depth, count or time that an agent controls is bounded by a constant here (or by
 * a server option whose default is here). Code that enforces a limit names the constant;
 * nothing else in the tree carries a bare number for an untrusted size.
 */
#ifndef TG_LIMITS_H
#define TG_LIMITS_H

/* HTTP layer */
#define TG_MAX_BODY_DEFAULT     (1024 * 1024) /* request body bytes (--max-body) */
#define TG_MAX_JSON_DEPTH       32            /* nesting of arrays/objects in a request body */
#define TG_MAX_URL_LEN          2048          /* request path + query bytes */
#define TG_MAX_CONNECTIONS      1024          /* concurrent client connections */
#define TG_CONNS_PER_IP         256           /* ... from one address (--max-conns-per-ip) */
#define TG_CONN_TIMEOUT_SEC     30 /* idle connection; and a kept-alive one's wait for a request */
#define TG_HEADER_TIMEOUT_SEC   10 /* request line and headers (--header-timeout) */
#define TG_BODY_TIMEOUT_SEC     30 /* a request's body, from its headers (--body-timeout) */
#define TG_CONN_TIMEOUT_MAX     3600         /* the largest --header-timeout and --body-timeout */
#define TG_SHUTDOWN_GRACE_MS    10000        /* wait for in-flight requests on SIGTERM */
#define TG_API_KEY_MAX          256          /* bytes of a bearer key */
#define TG_API_KEYS_MAX         64           /* keys in --api-key-file (plus --api-key) */
#define TG_API_KEY_LINE_MAX     4096         /* bytes of one line of --api-key-file */
#define TG_LOG_PATH_MAX         256          /* bytes of the path an access-log line shows */
#define TG_METRICS_TEXT_MAX     (16UL << 20) /* bytes of the GET /metrics text */
#define TG_HOST_NAME_MAX        255  /* bytes of a host name in Host, Origin, --allowed-hosts */
#define TG_ALLOWED_MAX          64   /* entries of --allowed-hosts, and of --allowed-origins */
#define TG_LOG_LINE_MAX         256  /* bytes of one per-request log line */
#define TG_REQ_LOG_LINES        8    /* log lines one request keeps (MCP log notifications) */
#define TG_MCP_SESSIONS_MAX     4096 /* live MCP sessions; past it the least recently used goes */
#define TG_MCP_SESSION_IDLE_SEC 3600 /* an MCP session unused this long is gone */
#define TG_MCP_SSE_REPLY_MAX    (16UL << 20) /* bytes of an MCP reply sent as SSE (else JSON) */

/* calculator */
#define TG_CALC_MAX_LEN   1024 /* expression bytes */
#define TG_CALC_MAX_DEPTH 64   /* nesting of parentheses, unary operators and calls */

/* search */
#define TG_SEARCH_MAX_QUERY 1024 /* query bytes */
#define TG_SEARCH_MAX_TERMS 64   /* distinct terms scored per query */
#define TG_SEARCH_K_DEFAULT 5
#define TG_SEARCH_K_MAX     20
#define TG_SNIPPET_CHARS    160         /* snippet length */
#define TG_CORPUS_MAX_DOCS  2000000     /* documents loaded from a corpus file */
#define TG_CORPUS_LINE_MAX  (64 * 1024) /* bytes of one corpus line */

/* run_code */
#define TG_CODE_MAX_BYTES          (64 * 1024) /* source bytes */
#define TG_STDIN_MAX_BYTES         (64 * 1024) /* stdin bytes */
#define TG_OUTPUT_MAX_BYTES        (64 * 1024) /* captured bytes per stream */
#define TG_CODE_TIMEOUT_DEFAULT_MS 2000
#define TG_CODE_TIMEOUT_MAX_MS     10000
#define TG_CODE_CPU_SEC            10            /* RLIMIT_CPU */
#define TG_CODE_AS_BYTES           (512UL << 20) /* RLIMIT_AS */
#define TG_CODE_FSIZE_BYTES        (8UL << 20)   /* RLIMIT_FSIZE */
#define TG_CODE_NOFILE             64            /* RLIMIT_NOFILE */
#define TG_CODE_NPROC              32            /* RLIMIT_NPROC: per slot uid, or per run */
#define TG_CODE_TMP_BYTES          (16UL << 20)  /* size of the private /tmp */
#define TG_CODE_TMP_INODES         4096          /* files and directories in the private /tmp */
#define TG_CODE_MEM_BYTES          (256UL << 20) /* memory of a run: cgroup limit or watch */
#define TG_CODE_MEM_TICK_MS        10            /* how often init's memory watch looks */
#define TG_CODE_PIDS               32            /* cgroup pids limit */
#define TG_CODE_ZYGOTE_MS          2000          /* warm mode: a zygote answers within this */
#define TG_CODE_ZYGOTE_START_MS    10000         /* warm mode: a new zygote is ready within this */
#define TG_RUN_QUEUE_DEFAULT       64            /* queued runs beyond the workers */
#define TG_CODE_CACHE_MAX_ENTRIES  65536         /* --code-cache slots */
#define TG_CODE_CACHE_BYTES        (64UL << 20)  /* bytes of cached copies */
#define TG_RUN_RETRY_AFTER_SEC     1             /* Retry-After on 503 overloaded */
#define TG_UID_BASE_DEFAULT        60000u        /* slot uids: first one tried (--uid-base auto) */
#define TG_UID_AUTO_END            65534u        /* auto ranges end below this (65534: nobody) */
#define TG_UID_MAX                 2147483647u   /* the last slot uid --uid-base may reach */

/* episodes */
#define TG_TAG_MAX               64
#define TG_NODE_NAME_MAX         16 /* bytes of a server's node name (--node), its episode ids' prefix */
#define TG_MAX_STEPS_DEFAULT     8
#define TG_MAX_STEPS_LIMIT       64
#define TG_ANSWER_MAX_BYTES      1024
#define TG_EPISODES_MAX          100000       /* episodes held in memory */
#define TG_EPISODE_IDLE_SEC      600          /* unfinished episodes expire after this idle time */
#define TG_EPISODE_BYTES_DEFAULT (1UL << 30)  /* bytes the store holds (--max-episode-bytes) */
#define TG_CLIENT_SHARE_DIV      8            /* a client's default share: 1/8 of the store */
#define TG_CLIENT_EPISODES_FLOOR 256          /* ... but at least this many (trainer in flight) */
#define TG_CLIENT_BYTES_FLOOR    (64UL << 20) /* ... and this many bytes */
#define TG_EVICT_IDLE_SEC        120  /* under pressure, evict unfinished episodes idle this long */
#define TG_CLIENT_KEY_MAX        64   /* bytes of a client's identity (key index or address) */
#define TG_STEP_ARGS_KEEP        1024 /* bytes of a malformed call's arguments kept in its step */
#define TG_TOOL_NAME_KEEP        64   /* bytes of an unknown tool's name kept in its step */
#define TG_TASKS_MAX             1000000
#define TG_TASK_LIMIT_MAX        1000 /* ?limit on GET /v1/tasks */
#define TG_REPORT_GROUPS_MAX     1024 /* distinct (split, tag) groups tracked for GET /v1/report */
#define TG_TRAJ_LINE_MAX         (64UL << 20) /* bytes of one trajectory line the reader accepts */
#define TG_LLM_RESPONSE_MAX      (16UL << 20) /* bytes of one chat completion (eval --agent openai) */
#define TG_EVAL_SERVERS_MAX      64           /* server URLs of one eval run (--server A,B,...) */

/* reports: task tags broken out per (split, tag) group for GET /v1/report?by=tag */
#define TG_REPORT_TASK_TAGS_MAX 512

/* task files (server/task.c) */
#define TG_TASK_LINE_MAX   (64 * 1024) /* bytes of one task line */
#define TG_TASK_ID_MAX     64          /* bytes of a task id or split name */
#define TG_TASK_PROMPT_MAX 4096        /* bytes of a prompt */
#define TG_TASK_PLAN_MAX   16          /* plan steps (and expert calls) of one task */
#define TG_TASK_TERMS_MAX  16          /* query_terms of one search step */
#define TG_TASK_TEXT_MAX   4096        /* bytes of a string answer, yields, stdout match */
#define TG_TASK_TAGS_MAX   32          /* tags of one task */
#define TG_TASK_TAG_MAX    64          /* bytes of one tag ("kind:value") */

/* trainer (config files and checkpoints are untrusted input too) */
#define TG_SCHED_WINDOW_MAX 256           /* GreedyLR smoothing window */
#define TG_SCHED_COUNT_MAX  1000000000    /* GreedyLR patience, holds, reset_start */
#define TG_CKPT_MAX_BYTES   (256UL << 20) /* checkpoint payload bytes */

/* trainer: the agent's view of an episode (policy/view.h), the text it reads (policy/seq.h),
 * the actions it composes (policy/act.h) and its HTTP client */
#define TG_VIEW_TEXT_MAX      768  /* bytes of a call's query, expression or code kept */
#define TG_VIEW_TITLE_MAX     96   /* bytes of a hit title kept */
#define TG_VIEW_HITS          3    /* search hits the policy asks for and reads */
#define TG_VIEW_STEPS_MAX     16   /* steps of one episode the agent remembers */
#define TG_VIEW_OUT_MAX       64   /* bytes of a program's output kept */
#define TG_SEQ_MAX            384  /* tokens the policy reads at one step */
#define TG_SEQ_PROMPT_MAX     160  /* of them, prompt tokens */
#define TG_SEQ_HIT_MAX        48   /* tokens of one hit (title and snippet) */
#define TG_SEQ_ACTION_MAX     24   /* tokens of one earlier call */
#define TG_SEQ_PIECES_MAX     48   /* hashed pieces of one token */
#define TG_SEQ_CONCEPTS_MAX   16   /* of them, WordNet concepts (policy/lexicon.h) */
#define TG_ACT_OUT_MAX        16   /* output tokens of one action */
#define TG_ACT_QUERY_MAX      6    /* words of a composed search query */
#define TG_ACT_DEPTH_MAX      2    /* parentheses nested in a composed expression */
#define TG_ACT_SYMBOLS_MAX    256  /* output symbols (fixed and learned from the experts) */
#define TG_ACT_WORD_MAX       24   /* bytes of a learned query word */
#define TG_ACT_TEMPLATES_MAX  32   /* program templates learned from the experts */
#define TG_ACT_TEMPLATE_BYTES 2048 /* bytes of one template */
#define TG_ACT_SLOTS_MAX      4    /* arguments of one template */
#define TG_NET_MAX_DIM        512  /* widths of the policy network */
#define TG_NET_MAX_PARAMS     (16 * 1024 * 1024) /* parameters in one policy */
#define TG_ROLLOUT_URLS_MAX   16                 /* --server URLs */
#define TG_ROLLOUT_INFLIGHT   256                /* episodes in flight at most */
#define TG_ROLLOUT_RESP_MAX   (4UL << 20) /* bytes of one response body the trainer accepts */
#define TG_TRAIN_CONFIG_MAX   (1UL << 20) /* bytes of a --config file */
#define TG_TRAIN_UPDATES_MAX  1000000     /* --updates */
#define TG_TRAIN_GROUP_MAX    64          /* --group */
#define TG_TRAIN_FILTER_MAX   8           /* filter_rounds: redraws of flat groups per update */

/* freeze planner (policy/pipeline.h, policy/freeze_plan.h): the times file and the schedule */
#define TG_PIPE_STAGES_MAX       64          /* --stages */
#define TG_PIPE_MICROBATCHES_MAX 1024        /* --microbatches */
#define TG_PIPE_ACTIONS_MAX      32768       /* forward + backward actions, 2 * S * M */
#define TG_PIPE_TIMES_BYTES      (1UL << 20) /* bytes of a --times file */
#define TG_PIPE_TIME_MAX         1e9         /* any one time in a --times file, in its unit */

/* number series read one per line (base/series.h: `toolgym lr-trace --signal FILE`) */
#define TG_SERIES_LINE_MAX 1024     /* bytes of one line */
#define TG_SERIES_MAX      10000000 /* numbers in one series */

#endif
