package io.denoise.auth;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

import java.time.Instant;
import java.util.UUID;

/** A stored API key: its hash, never the key. Written only through {@link ApiKeys}. */
@Entity
@Table(name = "api_key")
public class ApiKey extends PanacheEntityBase {

    @Id
    public UUID id;

    public String tenant;

    @Column(name = "key_hash")
    public byte[] keyHash;

    public String prefix;

    /** Comma-separated {@link Scope} ids. */
    public String scopes;

    /** The highest {@link io.denoise.jobs.Priority} (its rank) the key's jobs may ask for. */
    @Column(name = "max_priority")
    public int maxPriority = 1;

    @Column(name = "created_at")
    public Instant createdAt;

    @Column(name = "revoked_at")
    public Instant revokedAt;
}
