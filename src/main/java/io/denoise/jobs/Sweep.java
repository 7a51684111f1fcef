package io.denoise.jobs;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

import java.time.Instant;
import java.util.UUID;

/**
 * A sweep: its plan and its grid. Its cells are ordinary jobs carrying its id ({@link Job#sweepId}); its status is
 * theirs, summed up. Read freely; written only through {@link SweepStore}.
 */
@Entity
@Table(name = "sweep")
public class Sweep extends PanacheEntityBase {

    @Id
    public UUID id;

    /** The tenant that submitted the sweep: the only one that sees it (its cells are that tenant's jobs). */
    public String tenant;

    public String model;

    /** {@code io.denoise.recipe.SweepPlan#toJson()}: the base recipe and the axes. */
    @JdbcTypeCode(SqlTypes.JSON)
    public String plan;

    public int columns;

    public int rows;

    @Column(name = "created_at")
    public Instant createdAt;

    /** The grid PNG's object key, once stored. */
    @Column(name = "grid_key")
    public String gridKey;

    @Column(name = "grid_claimed_at")
    public Instant gridClaimedAt;

    /** Why the grid could not be drawn. */
    @Column(name = "grid_error")
    public String gridError;

    public int cells() {
        return columns * rows;
    }
}
