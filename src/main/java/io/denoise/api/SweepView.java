package io.denoise.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import io.denoise.jobs.Job;
import io.denoise.jobs.JobStatus;
import io.denoise.jobs.Sweep;
import io.denoise.recipe.SweepPlan;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A sweep as users see it: its plan, every cell's job and status, the sweep's progress and its grid. The sweep's
 * status is its cells' summed up: QUEUED until a cell starts, RUNNING until every cell has ended, then SUCCEEDED
 * if all succeeded, FAILED if any failed, else CANCELLED.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SweepView(
        String id,
        String model,
        JobStatus status,
        Progress progress,
        @Schema(description = "How many cells are in each status") Map<JobStatus, Integer> cellCounts,
        @Schema(implementation = JobSubmission.class,
                description = "The base recipe, as given (with the seed every cell shares)") JsonNode base,
        Axis x,
        Axis y,
        List<Cell> cells,
        GridState grid,
        Map<String, String> links) {

    /** Cells ended of all, and steps done of all the cells' steps. */
    public record Progress(int cellsDone, int cells, long steps, long totalSteps) {
    }

    /** An axis: the field it varies and its values. */
    public record Axis(String field, @Schema(description = "Numbers or strings, as the field takes them") List<Object> values) {
    }

    /** One cell: where it sits in the grid, and its job. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Cell(int index, int column, int row, String jobId, JobStatus status, int step, int totalSteps,
                       String image, JobView.Error error) {
    }

    /** The grid: {@code pending} until every cell has ended and it is stored, then {@code ready} (or {@code failed}). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record GridState(String status, String url, String error) {
    }

    static SweepView of(Sweep sweep, SweepPlan plan, List<Job> jobs) {
        String self = "/v1/sweeps/" + sweep.id;
        Map<JobStatus, Integer> counts = new TreeMap<>();
        List<Cell> cells = new ArrayList<>();
        long steps = 0;
        long total = 0;
        for (Job job : jobs) {
            counts.merge(job.status, 1, Integer::sum);
            int cell = job.sweepCell;
            steps += job.status.isTerminal() ? job.totalSteps : job.step;
            total += job.totalSteps;
            cells.add(new Cell(cell, cell % sweep.columns, cell / sweep.columns, job.id.toString(), job.status,
                    job.step, job.totalSteps,
                    job.status == JobStatus.SUCCEEDED ? "/v1/jobs/" + job.id + "/images/0" : null,
                    job.status == JobStatus.FAILED ? new JobView.Error(job.errorCode, job.errorMessage) : null));
        }
        int done = counts.getOrDefault(JobStatus.SUCCEEDED, 0) + counts.getOrDefault(JobStatus.FAILED, 0)
                + counts.getOrDefault(JobStatus.CANCELLED, 0);
        GridState grid = sweep.gridKey != null ? new GridState("ready", self + "/grid", null)
                : sweep.gridError != null ? new GridState("failed", null, sweep.gridError)
                : new GridState("pending", null, null);
        return new SweepView(sweep.id.toString(), sweep.model, status(counts, done, jobs.size()),
                new Progress(done, jobs.size(), steps, total), counts, plan.base(), axis(plan.x()), axis(plan.y()),
                cells, grid, Map.of("self", self, "events", self + "/events", "grid", self + "/grid"));
    }

    static JobStatus status(Map<JobStatus, Integer> counts, int done, int cells) {
        if (done < cells) {
            return counts.getOrDefault(JobStatus.QUEUED, 0) == cells ? JobStatus.QUEUED : JobStatus.RUNNING;
        }
        if (counts.getOrDefault(JobStatus.SUCCEEDED, 0) == cells) {
            return JobStatus.SUCCEEDED;
        }
        return counts.containsKey(JobStatus.FAILED) ? JobStatus.FAILED : JobStatus.CANCELLED;
    }

    private static Axis axis(SweepPlan.Axis axis) {
        return axis == null ? null : new Axis(axis.field(), List.copyOf(axis.values()));
    }
}
