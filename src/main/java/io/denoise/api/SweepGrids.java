package io.denoise.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.denoise.Roles;
import io.denoise.Threads;
import io.denoise.images.Grid;
import io.denoise.images.SweepGrid;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobImage;
import io.denoise.jobs.JobStatus;
import io.denoise.jobs.JobStore;
import io.denoise.jobs.Sweep;
import io.denoise.jobs.SweepStore;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.SweepPlan;
import io.denoise.storage.ImageStore;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Draws and stores sweep grids, and lays out one job's images. A sweep's grid is drawn as soon as its last cell
 * ends: every API replica hears the terminal event, one takes the drawing through the database
 * ({@link SweepStore#claimGrid}), and a periodic pass draws any grid whose event was lost or whose drawer died.
 * A grid that cannot be drawn (a cell image missing) is marked failed with the reason, so no sweep waits forever.
 */
@ApplicationScoped
public class SweepGrids {

    private static final Logger LOG = Logger.getLogger(SweepGrids.class);
    /** A claim older than this is taken to be a drawer that died. */
    static final Duration STALE_CLAIM = Duration.ofSeconds(60);
    static final Duration PASS_EVERY = Duration.ofSeconds(5);

    @Inject
    SweepStore sweeps;

    @Inject
    JobStore jobs;

    @Inject
    ImageStore images;

    @Inject
    ObjectMapper json;

    @Inject
    Roles roles;

    private ScheduledExecutorService drawer;

    void start(@Observes StartupEvent event) {
        if (!roles.api()) {
            return;
        }
        drawer = Threads.scheduled("sweep-grids");
        drawer.scheduleWithFixedDelay(this::pass, PASS_EVERY.toMillis(), PASS_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent event) {
        if (drawer != null) {
            drawer.shutdownNow();
        }
    }

    /** A job ended: if it is a sweep's cell, try that sweep's grid (on the drawer thread). */
    void jobEnded(UUID jobId) {
        ScheduledExecutorService d = drawer;
        if (d == null) {
            return;
        }
        try {
            d.execute(() -> {
                try {
                    jobs.find(jobId).map(job -> job.sweepId).ifPresent(this::draw);
                } catch (RuntimeException e) {
                    LOG.warnf("sweep grid after job %s: %s", jobId, e.toString());
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            LOG.debugf("shutting down; the grid pass picks up job %s's sweep", jobId);
        }
    }

    private void pass() {
        try {
            for (UUID id : sweeps.awaitingGrid(20)) {
                draw(id);
            }
        } catch (RuntimeException e) {
            LOG.warnf("sweep grid pass: %s", e.toString());
        }
    }

    /**
     * Draws and stores a sweep's grid if every cell has ended and no replica has it in hand; the key, or empty.
     * Safe to call from any thread and any replica.
     */
    Optional<String> draw(UUID sweepId) {
        if (!sweeps.claimGrid(sweepId, STALE_CLAIM)) {
            return Optional.empty();
        }
        Sweep sweep = sweeps.find(sweepId).orElseThrow();
        try {
            SweepPlan plan = plan(sweep);
            List<Grid.Cell> cells = new ArrayList<>();
            for (Job cell : sweeps.cells(sweepId)) {
                cells.add(cell(cell));
            }
            byte[] png = SweepGrid.render(plan, cells);
            String key = ImageStore.sweepGridKey(sweep.tenant, sweepId);
            images.put(key, png, "image/png");
            sweeps.gridStored(sweepId, key);
            LOG.infof("sweep %s: grid stored (%d cells, %d bytes)", sweepId, cells.size(), png.length);
            return Optional.of(key);
        } catch (ImageStore.StorageException e) {
            // the store is down: the claim goes stale and the pass tries again
            LOG.warnf("sweep %s: grid not stored yet: %s", sweepId, e.toString());
            return Optional.empty();
        } catch (RuntimeException e) {
            LOG.errorf(e, "sweep %s: grid cannot be drawn", sweepId);
            sweeps.gridFailed(sweepId, String.valueOf(e.getMessage()));
            return Optional.empty();
        }
    }

    SweepPlan plan(Sweep sweep) {
        try {
            return SweepPlan.read(json.readTree(sweep.plan), Integer.MAX_VALUE);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("sweep " + sweep.id + " has an unreadable plan", e);
        }
    }

    /** A cell of a grid: the job's first image, or a mark saying why there is none. */
    private Grid.Cell cell(Job job) throws ImageStore.StorageException {
        if (job.status == JobStatus.SUCCEEDED) {
            List<JobImage> stored = jobs.images(job);
            if (stored.isEmpty()) {
                return Grid.Mark.failed("no image stored");
            }
            byte[] png = images.get(stored.get(0).key())
                    .orElseThrow(() -> new IllegalStateException("image " + stored.get(0).key() + " is missing"));
            return new Grid.Image(png);
        }
        if (job.status == JobStatus.CANCELLED) {
            return Grid.Mark.cancelled("");
        }
        return Grid.Mark.failed(job.errorCode == null ? "" : job.errorCode);
    }

    /** One job's images in ⌈√n⌉ columns, each captioned with its seed; its request in the {@code job} text chunk. */
    byte[] jobGrid(Job job) throws ImageStore.StorageException {
        List<Grid.Cell> cells = new ArrayList<>();
        List<String> captions = new ArrayList<>();
        for (JobImage image : jobs.images(job)) {
            cells.add(cell(image));
            captions.add("seed " + image.seed());
        }
        GenerationRequest request = jobs.parameters(job);
        Map<String, String> text = new LinkedHashMap<>();
        ObjectNode recipe = json.valueToTree(request);
        recipe.put("model", job.model);
        text.put("job", recipe.toString());
        return Grid.images(request.prompt(), cells, captions, Grid.columnsFor(cells.size()), text);
    }

    private Grid.Cell cell(JobImage image) throws ImageStore.StorageException {
        return images.get(image.key()).<Grid.Cell>map(Grid.Image::new)
                .orElseGet(() -> Grid.Mark.failed("image missing from the store"));
    }
}
