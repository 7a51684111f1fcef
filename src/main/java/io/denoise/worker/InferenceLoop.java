package io.denoise.worker;

import io.denoise.pipeline.BatchedLoop;
import io.denoise.pipeline.Cancellation;
import io.denoise.pipeline.GenerationListener;
import io.denoise.pipeline.GenerationResult;
import io.denoise.pipeline.PreparedGeneration;
import io.denoise.pipeline.TextToImagePipeline;
import io.denoise.recipe.GenerationRequest;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The worker's inference thread: every generation the worker holds runs here, batched step by step
 * ({@link BatchedLoop}) with the others of its model and latent size, so each step is one UNet call over all of them.
 * The job threads prepare their generations ({@link TextToImagePipeline#prepare}: the prompt, timesteps, latents and
 * init image, work that is each generation's alone) beside the running batch, hand them in with {@link #generate}
 * and wait; a generation joins at the next step boundary and leaves when its images are decoded. Generations of
 * different models or sizes are in loops of their own, stepped in turn. With {@link WorkerConfig#maxBatchJobs()} 1
 * there is no batching: {@link #generate} runs the generation alone on the caller's thread.
 *
 * <p>{@link #hasRoom(int)} is what the consumer asks before it takes another record: room while fewer than
 * {@code max-batch-jobs} jobs are taken and the batched step, grown by one more generation, is predicted to stay
 * within {@link WorkerConfig#batchStepBudget()}, so a worker does not hold jobs that another, idle one would start
 * sooner. The prediction is a generation's share of a round, averaged over recent rounds, times the jobs taken
 * (claimed, not only handed in) plus one: it moves when a job is taken or ends, not with one slow round, and a
 * consumer that left the share group for want of room comes back only with a margin
 * ({@link #hasRoomToRejoin(int)}). Each leave may drop a record fetched in the background, which spends one of its
 * deliveries; a signal that flickers with every round did that to the whole queue.
 */
@ApplicationScoped
public class InferenceLoop {

    private static final Logger LOG = Logger.getLogger(InferenceLoop.class);

    @Inject
    WorkerConfig config;

    /** Generations handed in, not yet added to a loop; bounded by the jobs a worker holds. */
    private final BlockingQueue<Arrival> arrivals = new LinkedBlockingQueue<>();
    /** Generations handed in and not yet finished. */
    private final AtomicInteger held = new AtomicInteger();
    /** A share of the budget a consumer that left the group waits for before it comes back. */
    static final double REJOIN_SHARE = 0.9;
    /** One generation's share of a round's wall time, a moving average over the last rounds (0 before any). */
    private volatile double generationNanos;
    /** The generations stepped in the previous round; inference thread only. */
    private int lastStepped;
    private volatile Thread thread;
    private volatile boolean stopped;

    private record Arrival(TextToImagePipeline pipeline, PreparedGeneration generation,
                           CompletableFuture<GenerationResult> result, long handedIn) {
    }

    private record LoopKey(TextToImagePipeline pipeline, int width, int height) {
    }

    /** Whether generations are batched ({@code max-batch-jobs} above 1). */
    public boolean batching() {
        return config.maxBatchJobs() > 1;
    }

    /**
     * Runs a generation, in the shared batch when batching is on, and waits for it; throws what
     * {@link TextToImagePipeline#generate} throws (cancellation, an invalid request, an ONNX Runtime failure).
     */
    public GenerationResult generate(TextToImagePipeline pipeline, GenerationRequest request, byte[] initImage,
                                     GenerationListener listener, Cancellation cancel) throws Exception {
        if (!batching()) {
            return pipeline.generate(request, initImage, listener, cancel);
        }
        held.incrementAndGet();
        try {
            if (stopped) {
                throw new IllegalStateException("the worker's inference loop has stopped");
            }
            ensureStarted();
            // the generation's own stages (prompt, timesteps, latents, init image) run here, beside the batch's
            // steps, so the batch does not wait for them; once it joins, the loop owns it
            try (PreparedGeneration generation = pipeline.prepare(request, initImage, listener, cancel)) {
                Arrival arrival = new Arrival(pipeline, generation, new CompletableFuture<>(), System.nanoTime());
                arrivals.add(arrival);
                return awaitResult(arrival, cancel);
            }
        } finally {
            held.decrementAndGet();
        }
    }

    /**
     * Waits for a generation's result. An interrupted job thread cancels its generation and still waits for it to
     * leave the batch, so nothing of the job runs on after the job has ended; a generation handed in as the loop
     * stopped is taken back.
     */
    private GenerationResult awaitResult(Arrival arrival, Cancellation cancel) throws Exception {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return arrival.result().get(1, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    if (!isRunning() && arrivals.remove(arrival)) {
                        throw new IllegalStateException("the worker's inference loop has stopped");
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                    cancel.cancel();
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof Exception cause) {
                        throw cause;
                    }
                    throw e;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private boolean isRunning() {
        Thread t = thread;
        return t != null && t.isAlive();
    }

    /** {@link #hasRoom(int)} for the generations handed in here. */
    public boolean hasRoom() {
        return hasRoom(held.get());
    }

    /**
     * Whether a worker that has taken {@code taken} jobs should take another: fewer than {@code max-batch-jobs}, and
     * the step with one more generation predicted within the step budget.
     */
    public boolean hasRoom(int taken) {
        return predictedStepNanos(taken) <= config.batchStepBudget().toNanos();
    }

    /** {@link #hasRoom(int)} with a margin ({@link #REJOIN_SHARE} of the budget), for a consumer that left for want of room. */
    public boolean hasRoomToRejoin(int taken) {
        return predictedStepNanos(taken) <= config.batchStepBudget().toNanos() * REJOIN_SHARE;
    }

    private double predictedStepNanos(int taken) {
        int jobs = Math.max(taken, held.get());
        if (jobs >= config.maxBatchJobs()) {
            return Double.POSITIVE_INFINITY;
        }
        return jobs == 0 ? 0 : generationNanos * (jobs + 1);
    }

    /** Takes a round of {@code stepped} generations that took {@code nanos} into the average a generation costs. */
    void noteRound(long nanos, int stepped) {
        if (stepped > 0) {
            double share = (double) nanos / stepped;
            double average = generationNanos;
            generationNanos = average == 0 ? share : average + (share - average) / 4;
        }
    }

    /** Generations handed in and not finished. */
    public int held() {
        return held.get();
    }

    private synchronized void ensureStarted() {
        if (thread == null) {
            thread = new Thread(this::run, "inference");
            thread.setDaemon(true);
            thread.start();
            LOG.infof("batching up to %d jobs per UNet call (step budget %s)", config.maxBatchJobs(),
                    config.batchStepBudget());
        }
    }

    private void run() {
        Map<LoopKey, BatchedLoop> loops = new LinkedHashMap<>();
        try {
            while (!stopped) {
                try {
                    round(loops);
                } catch (RuntimeException e) {
                    // a bug rather than a failing generation (those fail their own futures): drop what is held and
                    // go on, so the worker keeps serving
                    LOG.error("a round of the inference loop failed; failing the generations it held", e);
                    loops.values().forEach(BatchedLoop::close);
                    loops.clear();
                }
            }
        } finally {
            loops.values().forEach(BatchedLoop::close);
            Arrival a;
            while ((a = arrivals.poll()) != null) {
                a.result().completeExceptionally(new IllegalStateException("the worker's inference loop has stopped"));
            }
        }
    }

    /** Admits what was handed in, then steps every loop once and notes how long that took. */
    private void round(Map<LoopKey, BatchedLoop> loops) {
        if (!admit(loops)) {
            return;
        }
        long start = System.nanoTime();
        int stepped = 0;
        for (BatchedLoop loop : loops.values()) {
            stepped += loop.size();
            loop.step();
        }
        long roundNanos = System.nanoTime() - start;
        noteRound(roundNanos, stepped);
        if (stepped != lastStepped && LOG.isDebugEnabled()) {
            // the batch's make-up changed: the first call of a new size allocates its buffers
            LOG.debugf("a round of %d generations (was %d): %.1f ms", (Object) stepped, lastStepped, roundNanos / 1e6);
        }
        lastStepped = stepped;
        closeEmpty(loops);
    }

    /**
     * Adds the generations handed in since the last round to their loops; waits for one while no loop holds any.
     *
     * @return whether there is anything to step
     */
    private boolean admit(Map<LoopKey, BatchedLoop> loops) {
        List<Arrival> batch = new ArrayList<>();
        if (loops.isEmpty()) {
            try {
                Arrival first = arrivals.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    return false;
                }
                batch.add(first);
            } catch (InterruptedException e) {
                stopped = true;
                return false;
            }
        }
        arrivals.drainTo(batch);
        for (Arrival a : batch) {
            GenerationRequest request = a.generation().request();
            LoopKey key = new LoopKey(a.pipeline(), request.width(), request.height());
            BatchedLoop loop = loops.computeIfAbsent(key, k -> k.pipeline().batchedLoop(config.maxBatchJobs()));
            long admitted = System.nanoTime();
            try {
                loop.add(a.generation()).whenComplete((result, failure) -> {
                    if (failure != null) {
                        a.result().completeExceptionally(failure);
                    } else {
                        a.result().complete(result);
                    }
                });
                LOG.debugf("joined a batch of %d after %.1f ms in the queue", (Object) loop.size(), (admitted - a.handedIn()) / 1e6);
            } catch (RuntimeException e) {
                a.result().completeExceptionally(e);
            }
        }
        closeEmpty(loops);
        return !loops.isEmpty();
    }

    private static void closeEmpty(Map<LoopKey, BatchedLoop> loops) {
        Iterator<BatchedLoop> it = loops.values().iterator();
        while (it.hasNext()) {
            BatchedLoop loop = it.next();
            if (loop.isEmpty()) {
                it.remove();
                loop.close();
            }
        }
    }

    /** Stops the inference thread once the generations it holds have left (shutdown cancels them first). */
    @PreDestroy
    synchronized void stop() {
        Thread t = thread;
        if (t == null) {
            stopped = true;
            return;
        }
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (held.get() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            stopped = true;
            t.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
