package io.denoise.jobs;

import io.denoise.recipe.GenerationRequest;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

import java.time.Instant;
import java.util.UUID;

/**
 * A generation job. Read freely; status and everything a worker writes changes only through {@link JobStore}.
 */
@Entity
@Table(name = "job")
public class Job extends PanacheEntityBase {

    @Id
    public UUID id;

    /** The tenant that submitted the job: the only one that sees it. */
    public String tenant;

    public String model;

    @Enumerated(EnumType.STRING)
    public JobStatus status;

    /** {@link GenerationRequest} as JSON. */
    @JdbcTypeCode(SqlTypes.JSON)
    public String params;

    @Column(name = "idempotency_key")
    public String idempotencyKey;

    @Column(name = "request_hash")
    public String requestHash;

    public int attempt;

    @Column(name = "worker_id")
    public String workerId;

    @Column(name = "lease_until")
    public Instant leaseUntil;

    @Column(name = "cancel_requested")
    public boolean cancelRequested;

    public int step;

    @Column(name = "total_steps")
    public int totalSteps;

    @Column(name = "created_at")
    public Instant createdAt;

    @Column(name = "started_at")
    public Instant startedAt;

    @Column(name = "finished_at")
    public Instant finishedAt;

    @Column(name = "error_code")
    public String errorCode;

    @Column(name = "error_message")
    public String errorMessage;

    /** When the outbox relay last published the job's record (null before). */
    @Column(name = "dispatched_at")
    public Instant dispatchedAt;

    /** The partition of that record in the model's jobs topic (null before). */
    @Column(name = "record_partition")
    public Integer recordPartition;

    /** The offset of that record in its partition (null before). */
    @Column(name = "record_offset")
    public Long recordOffset;

    /** How often recovery re-published a record for this job. */
    public int redrives;

    /** The broker's delivery count of the record at the last claim. */
    public int deliveries;

    /** A JSON array of {@link JobImage}, once the job succeeded. */
    @JdbcTypeCode(SqlTypes.JSON)
    public String images;

    /** Waiting in PostgreSQL for {@link FairDispatcher} to release it to Kafka (fair scheduling). */
    public boolean held;

    /** {@link Priority#rank()}: higher ranks are released first. */
    public int priority = Priority.NORMAL.rank();

    /** Where this job's webhook deliveries go, or null for none. */
    @Column(name = "webhook_url")
    public String webhookUrl;

    /** The events the webhook wants, comma-separated: {@code started}, {@code progress}, {@code completed}. */
    @Column(name = "webhook_events")
    public String webhookEvents;

    /** The sweep this job is a cell of, or null. */
    @Column(name = "sweep_id")
    public UUID sweepId;

    /** Its cell in that sweep, row-major. */
    @Column(name = "sweep_cell")
    public Integer sweepCell;
}
