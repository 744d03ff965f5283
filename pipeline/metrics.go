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
	forwardBugs     *prometheus.CounterVec
	timeJumps       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_records_total",
			Help: "Input records by result: scored, parked (anonymous, waiting for a link), ignored, duplicate, dead_letter.",
		}, []string{"result"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadscore_pipeline_dead_letters_total",
			Help: "Records sent to the dead-letter topic, by reason code.",
		}, []string{"reason"}),
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
			Help: "1 while a sink did not take a cycle's rows in time and consumption is paused until it answers.",
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
			m.handoffs, m.decayChanges, m.contactsDropped, m.rulesReloads, m.rulesInfo, m.rejectedLeads, m.jobChanges, m.leadMerges, m.mergesApplied,
			m.forwardBugs, m.timeJumps)
	}
	m.rekeyHop.Set(0)
	return m
}
