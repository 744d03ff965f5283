package pipeline

import "github.com/prometheus/client_golang/prometheus"

// metrics are the pipeline's own series; franz-go's come from kprom.
type metrics struct {
	records         *prometheus.CounterVec
	deadLetters     *prometheus.CounterVec
	changes         prometheus.Counter
	accounts        prometheus.Gauge
	partitions      prometheus.Gauge
	commits         prometheus.Counter
	cycle           prometheus.Histogram
	changelog       prometheus.Counter
	aborts          prometheus.Counter
	restore         prometheus.Histogram
	rekeyHop        prometheus.Gauge
	sinkDown        prometheus.Gauge
	evicted         prometheus.Counter
	reloaded        prometheus.Counter
	linksEvicted    prometheus.Counter
	sessionRestarts prometheus.Counter
	visitorsEvicted prometheus.Counter
	storeBytes      prometheus.Gauge
	handoffs        prometheus.Counter
	decayChanges    prometheus.Counter
	contactsDropped prometheus.Counter
	rulesReloads    *prometheus.CounterVec
	rulesInfo       *prometheus.GaugeVec
	rejectedLeads   *prometheus.CounterVec
	jobChanges      prometheus.Counter
	leadMerges      *prometheus.CounterVec
	mergesApplied   *prometheus.CounterVec
	rebuilds        prometheus.Counter
	tailsCut        prometheus.Counter
	corrections     *prometheus.CounterVec
	retractions     *prometheus.CounterVec
	// valuesIgnored counts values of known fields that were ignored rather
	// than losing their record; scoresIgnored is its properties.score.
	valuesIgnored *prometheus.CounterVec
	scoresIgnored prometheus.Counter
	forwardBugs   *prometheus.CounterVec
	timeJumps     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_records_total",
			Help: "Records by result: forwarded, parked (anonymous, waiting for a link), ignored, duplicate, dead_letter (input partitions); scored, late (scored, with an event older than its account's time) and duplicate (scoring partitions).",
		}, []string{"result"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_dead_letters_total",
			Help: "Records sent to the dead-letter topic, by reason code.",
		}, []string{"reason"}),
		corrections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_corrections_total",
			Help: "Rows written again with new content because an event arrived late, by table.",
		}, []string{"table"}),
		retractions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_retractions_total",
			Help: "Rows retracted because an event that arrived late means event-time order does not write them, by table.",
		}, []string{"table"}),
		tailsCut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_tails_cut_total",
			Help: "Open tails cut to half because they held more than engine.max_tail_records: their oldest records became final before the watermark passed them.",
		}),
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_account_rebuilds_total",
			Help: "Accounts rebuilt from their open tail because a record arrived before one already applied.",
		}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_score_changes_total",
			Help: "Score changes emitted.",
		}),
		accounts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leadscore_pipeline_accounts",
			Help: "Accounts held in memory by this instance.",
		}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leadscore_pipeline_partitions",
			Help: "Input partitions owned by this instance.",
		}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_commits_total",
			Help: "Transactions committed (outputs, changelog and offsets) after ClickHouse was flushed.",
		}),
		cycle: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "leadscore_pipeline_commit_seconds",
			Help:    "Time to write the changelog, flush every sink and commit the transaction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		changelog: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_changelog_accounts_total",
			Help: "Account states written to the changelog.",
		}),
		aborts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_transaction_aborts_total",
			Help: "Cycles whose transaction aborted (the group moved on); their work is redone from the changelog.",
		}),
		restore: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "leadscore_pipeline_restore_seconds",
			Help:    "Time to restore a partition's state from the changelog.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 20),
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_accounts_evicted_total",
			Help: "Accounts moved from memory to the local state store (over engine.max_resident_accounts or idle past engine.idle_ttl).",
		}),
		linksEvicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_links_evicted_total",
			Help: "Person links moved from memory to the local state store (over engine.max_resident_links).",
		}),
		sessionRestarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_session_restarts_total",
			Help: "Kafka sessions replaced after a failed transaction (the broker was unreachable, say); state is restored from the changelog each time.",
		}),
		visitorsEvicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_visitors_evicted_total",
			Help: "Anonymous visitors' pending events moved from memory to the local state store (over engine.max_resident_visitors).",
		}),
		reloaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_accounts_reloaded_total",
			Help: "Accounts read back from the local state store when seen again.",
		}),
		storeBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leadscore_pipeline_state_store_bytes",
			Help: "Disk used by the local state store.",
		}),
		sinkDown: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leadscore_pipeline_sink_down",
			Help: "1 while a sink does not answer its probe (every clickhouse.probe_interval), or did not take a cycle's rows in time and consumption is paused until it answers.",
		}),
		handoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_handoffs_total",
			Help: "Hand-offs emitted: an account or contact entered the mql stage.",
		}),
		decayChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_decay_rescores_total",
			Help: "Accounts re-scored because event time passed a line their score crosses by decay alone.",
		}),
		contactsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_contacts_untracked_total",
			Help: "Events of a contact not tracked on its own because its account has engine.max_contacts_per_account contacts (they still count for the account).",
		}),
		rulesReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_rules_reloads_total",
			Help: "Changes of the rules file seen, by result: applied, or rejected (invalid; the running rules stay).",
		}, []string{"result"}),
		rejectedLeads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_rejected_leads_total",
			Help: "Rejected leads by reason code (a lead with several reasons counts under each).",
		}, []string{"reason"}),
		leadMerges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_lead_duplicates_total",
			Help: "Leads found to duplicate an earlier one, by the kind of the policy that matched (phone, email, wechat, company).",
		}, []string{"kind"}),
		mergesApplied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_lead_merges_applied_total",
			Help: "Duplicate leads acted on by the worker of their account, by result: merged (engagement folded into the survivor in the same account), moved (sent to the survivor's account), folded (received from another account), tagged, or unmerged (the survivor has no account: tagged instead).",
		}, []string{"result"}),
		jobChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_job_changes_total",
			Help: "Known contacts whose identify named another company (job_changed records).",
		}),
		rulesInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leadscore_rules_info",
			Help: "1 for the rules version in force.",
		}, []string{"version"}),
		valuesIgnored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_values_ignored_total",
			Help: "Values of known fields read as absent because they were not of the field's type (properties.score that is not a number); their records were processed.",
		}, []string{"field"}),
		forwardBugs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_forward_bugs_total",
			Help: "Repartition records a scoring worker could not read, by record kind (event, lead, merge, fold): always a bug (or a record of an incompatible version). Each goes to the dead-letter topic as invalid_forward, an event as its original input record.",
		}, []string{"record"}),
		timeJumps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leadscore_pipeline_time_jumps_clamped_total",
			Help: "Input records dated more than engine.max_time_jump past their partition's event time, which moved it (and the watermark) by that bound only.",
		}),
		rekeyHop: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leadscore_pipeline_rekey_skipped",
			Help: "1 when resolved events are scored where they arrive instead of going through the repartition topic; always 0 for now (the hop is always taken).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.deadLetters, m.changes, m.accounts, m.partitions,
			m.commits, m.cycle, m.changelog, m.aborts, m.restore, m.sinkDown, m.evicted, m.linksEvicted, m.sessionRestarts, m.visitorsEvicted, m.reloaded, m.storeBytes, m.rekeyHop,
			m.handoffs, m.decayChanges, m.contactsDropped, m.rulesReloads, m.rulesInfo, m.rejectedLeads, m.jobChanges, m.leadMerges, m.mergesApplied, m.rebuilds, m.corrections, m.retractions, m.tailsCut,
			m.forwardBugs, m.timeJumps)
		reg.MustRegister(m.valuesIgnored)
	}
	m.scoresIgnored = m.valuesIgnored.WithLabelValues("properties.score")
	m.rekeyHop.Set(0)
	return m
}
