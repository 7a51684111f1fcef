package io.denoise.jobs;

import io.denoise.recipe.GenerationRequest;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** Sweeps in PostgreSQL: stored with all their cells' jobs in one transaction, and their grids' state. */
@ApplicationScoped
public class SweepStore {

    /** One cell to store: its job's id, request and queue record. */
    public record Cell(UUID jobId, GenerationRequest request, String recordPayload) {
    }

    @Inject
    EntityManager em;

    @Inject
    JobStore jobs;

    @Inject
    Quotas quotas;

    /**
     * Stores a sweep and every cell's QUEUED job and outbox record, all or nothing, if the tenant's quotas admit them
     * all; every cell is handled as {@code handling} says (its priority, its webhook).
     */
    @Transactional
    public Sweep submit(String tenant, UUID id, String model, String planJson, int columns, int rows, String topic, List<Cell> cells,
                        JobStore.Handling handling) {
        quotas.prepare();
        Sweep sweep = new Sweep();
        sweep.id = id;
        sweep.tenant = tenant;
        sweep.model = model;
        sweep.plan = planJson;
        sweep.columns = columns;
        sweep.rows = rows;
        sweep.createdAt = Instant.now();
        sweep.persist();
        em.flush();
        for (int i = 0; i < cells.size(); i++) {
            Cell cell = cells.get(i);
            jobs.submit(tenant, cell.jobId(), model, cell.request(), handling, null, null, topic, cell.recordPayload(), id, i);
        }
        quotas.admit(tenant, cells.size());
        return sweep;
    }

    @Transactional
    public Optional<Sweep> find(UUID id) {
        return Sweep.findByIdOptional(id);
    }

    /** A sweep of {@code tenant}: another tenant's is as absent as one that never existed. */
    @Transactional
    public Optional<Sweep> find(String tenant, UUID id) {
        return Sweep.<Sweep>findByIdOptional(id).filter(sweep -> sweep.tenant.equals(tenant));
    }

    /** The sweep's cells' jobs, in cell order. */
    @Transactional
    public List<Job> cells(UUID sweepId) {
        return Job.list("sweepId = ?1 order by sweepCell", sweepId);
    }

    /**
     * Takes the drawing of a sweep's grid: only once every cell has ended, only while no grid is stored or has
     * failed, and only if no other replica took it within {@code stale}.
     */
    @Transactional
    public boolean claimGrid(UUID id, Duration stale) {
        return em.createNativeQuery("""
                        update sweep set grid_claimed_at = now()
                         where id = :id and grid_key is null and grid_error is null
                           and (grid_claimed_at is null or grid_claimed_at < now() - make_interval(secs => :stale))
                           and not exists (select 1 from job where sweep_id = :id and status in ('QUEUED', 'RUNNING'))""")
                .setParameter("id", id)
                .setParameter("stale", stale.toMillis() / 1000.0)
                .executeUpdate() == 1;
    }

    @Transactional
    public void gridStored(UUID id, String key) {
        em.createNativeQuery("update sweep set grid_key = :key where id = :id")
                .setParameter("key", key).setParameter("id", id).executeUpdate();
    }

    @Transactional
    public void gridFailed(UUID id, String message) {
        em.createNativeQuery("update sweep set grid_error = :message where id = :id")
                .setParameter("message", message).setParameter("id", id).executeUpdate();
    }

    /** Sweeps whose cells have all ended but whose grid is neither stored nor failed, oldest first. */
    @Transactional
    @SuppressWarnings("unchecked")
    public List<UUID> awaitingGrid(int limit) {
        return em.createNativeQuery("""
                        select s.id from sweep s
                         where s.grid_key is null and s.grid_error is null
                           and not exists (select 1 from job j where j.sweep_id = s.id and j.status in ('QUEUED', 'RUNNING'))
                         order by s.created_at limit :limit""", UUID.class)
                .setParameter("limit", limit)
                .getResultList();
    }
}
