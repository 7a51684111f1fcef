package io.denoise.pipeline;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.denoise.recipe.GenerationRequest;
import io.denoise.recipe.InvalidRequestException;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Iteration-level ("continuous") batching: several generations of one model and one latent size denoised together,
 * one UNet call per step over all of them. Each generation keeps everything of its own — request, scheduler,
 * timesteps, step count, guidance, seeds, init image and strength, previews, listener, cancellation — and only the
 * UNet call is shared, so a generation in a batch gives the images it gives alone. Generations join between steps
 * ({@link #add}) and leave as soon as their last step has run ({@link #step} decodes them and completes their
 * futures): a short one never waits for a long one, and one added now runs its first step at the next
 * {@link #step}.
 *
 * <p>Layout of a shared call: the generations' rows side by side in the order they joined, each exactly as it lays
 * them out alone — the negative prompt's {@code numImages} rows, then the prompt's (guidance ≤ 1: the prompt's
 * only) — with {@code encoder_hidden_states} copied byte for byte from each generation's own text states into the
 * same rows (copied again only when the set of generations in the call changes). Where the UNet takes one
 * timestep per row ({@link ModelSet#timestepPerSample()}, {@code timestep [batch]}) every row gets its own
 * generation's timestep and a step is one call; where it takes one timestep per call (a scalar or {@code [1]})
 * the generations are grouped by timestep and a step makes one call per group.
 *
 * <p>Cancellation and failures are per generation: a cancelled generation leaves at the next step boundary (its
 * future fails with {@link GenerationCancelledException}), without terminating the shared call in flight, which
 * the others need; a listener that throws fails its own generation only. A failing UNet call fails the
 * generations in it. The shared calls run with the loop's own run options; a generation's own run options (its
 * text encoder, VAE and preview runs) are what its {@link Cancellation} terminates.
 *
 * <p>Not thread-safe: one thread (a worker's) calls {@link #add}, {@link #step} and {@link #close}; only
 * {@link Cancellation#cancel()} may come from other threads. Owns native memory (each generation's text states,
 * the shared calls' buffers, the run options): a generation's is freed when it leaves, before its future
 * completes; {@link #close()} frees the rest, exactly once.
 */
public final class BatchedLoop implements AutoCloseable {

    private final TextToImagePipeline pipeline;
    private final ModelSet model;
    private final OrtEnvironment env;
    private final int maxJobs;
    private final boolean perSample;
    private final OrtSession.RunOptions runOptions;
    /** Time inside the shared UNet calls, from which each call's time is added to its generations' stats. */
    private final InferenceStats callStats = new InferenceStats();
    private final List<Member> members = new ArrayList<>();
    private final Map<SlotKey, Slot> slots = new LinkedHashMap<>();
    private boolean closed;

    BatchedLoop(TextToImagePipeline pipeline, int maxJobs) {
        if (maxJobs < 1) {
            throw new IllegalArgumentException("maxJobs must be at least 1, got " + maxJobs);
        }
        this.pipeline = pipeline;
        this.model = pipeline.model();
        this.env = model.sessions().environment();
        this.maxJobs = maxJobs;
        this.perSample = model.timestepPerSample();
        try {
            this.runOptions = new OrtSession.RunOptions();
        } catch (OrtException e) {
            throw new IllegalStateException("cannot create ONNX Runtime run options", e);
        }
    }

    /** One generation held by the loop. */
    private static final class Member {
        final Generation generation;
        final GenerationListener listener;
        final Cancellation cancel;
        final CompletableFuture<GenerationResult> future = new CompletableFuture<>();
        final long start;
        long loopStart = -1;
        long loopInferenceStart;

        Member(Generation generation, GenerationListener listener, Cancellation cancel, long start) {
            this.generation = generation;
            this.listener = listener;
            this.cancel = cancel;
            this.start = start;
        }
    }

    private record SlotKey(int rows, int latentHeight, int latentWidth) {
    }

    /** A shared call's buffers for one number of rows: the batch's text states and the UNet's invocation. */
    private static final class Slot {
        final NativeTensor states;
        final UNet.Invocation unet;
        /** The generations whose text states {@link #states} holds, in row order. */
        List<Generation> filledWith = List.of();
        boolean used;

        Slot(NativeTensor states, UNet.Invocation unet) {
            this.states = states;
            this.unet = unet;
        }

        void close() {
            try {
                unet.close();
            } finally {
                states.close();
            }
        }
    }

    /** Generations held: added and not yet finished, failed or cancelled. */
    public int size() {
        return members.size();
    }

    public boolean isEmpty() {
        return members.isEmpty();
    }

    /**
     * Whether {@link #add} would take {@code r} now: the loop is open, holds fewer than {@code maxJobs} generations,
     * and is empty or holds generations of {@code r}'s size. Says nothing of the request's validity.
     */
    public boolean accepts(GenerationRequest r) {
        if (closed || members.size() >= maxJobs) {
            return false;
        }
        if (members.isEmpty()) {
            return true;
        }
        GenerationRequest held = members.get(0).generation.request();
        return held.width() == r.width() && held.height() == r.height();
    }

    /**
     * Checks the request, opens its generation, encodes the prompt, sets the timesteps and prepares the latents; its
     * first step runs at the next {@link #step}. Image-to-image when the request names an init image, whose bytes
     * are {@code initImage}.
     *
     * @return completed by the {@link #step} that runs the generation's last step, with what it produced, or
     *         exceptionally: {@link GenerationCancelledException} if cancelled, the failure if it failed (ONNX
     *         Runtime, the listener), {@link IllegalStateException} if the loop was closed first
     * @throws InvalidRequestException if the request does not fit the model, or its init image does not; nothing is
     *                                 held and the generations in the loop are untouched
     * @throws IllegalStateException   if the loop is closed, full, or holds generations of another size
     *                                 ({@link #accepts})
     */
    public CompletableFuture<GenerationResult> add(GenerationRequest r, byte[] initImage, GenerationListener listener,
                                                   Cancellation cancel) {
        checkOpen();
        pipeline.checkInputs(r);
        checkAccepts(r);
        PreparedGeneration prepared;
        try {
            prepared = pipeline.prepare(r, initImage, listener, cancel);
        } catch (InvalidRequestException e) {
            throw e;
        } catch (OrtException | RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return add(prepared);
    }

    /**
     * Takes a generation prepared with {@link TextToImagePipeline#prepare} (on any thread); its first step runs at
     * the next {@link #step}. The loop owns it from here on.
     *
     * @return as {@link #add(GenerationRequest, byte[], GenerationListener, Cancellation)}
     * @throws IllegalStateException if the loop is closed, full, or holds generations of another size; the caller
     *                               still owns the prepared generation then
     */
    public CompletableFuture<GenerationResult> add(PreparedGeneration prepared) {
        checkOpen();
        checkAccepts(prepared.request());
        Member m = new Member(prepared.take(), prepared.listener, prepared.cancel, prepared.start);
        members.add(m);
        return m.future;
    }

    private void checkAccepts(GenerationRequest r) {
        if (!accepts(r)) {
            throw new IllegalStateException(members.size() >= maxJobs
                    ? "the batched loop already holds " + maxJobs + " generations"
                    : "the batched loop holds generations of another size than " + r.width() + "x" + r.height());
        }
    }

    /**
     * Runs one step of every generation held — one UNet call for all, or one per timestep where the UNet takes one
     * timestep per call — after letting cancelled generations leave; then decodes each generation whose last step
     * just ran and completes its future. Nothing happens when the loop is empty.
     *
     * @return the UNet calls made
     */
    public int step() {
        checkOpen();
        for (Member m : List.copyOf(members)) {
            if (m.cancel.isCancelled()) {
                fail(m, new GenerationCancelledException(m.generation.stepsDone()));
            }
        }
        List<List<Member>> groups = new ArrayList<>();
        if (perSample) {
            List<Member> running = members.stream().filter(m -> m.generation.hasNextStep()).toList();
            if (!running.isEmpty()) {
                groups.add(running);
            }
        } else {
            Map<Double, List<Member>> byTimestep = new LinkedHashMap<>();
            for (Member m : members) {
                if (m.generation.hasNextStep()) {
                    byTimestep.computeIfAbsent(m.generation.timestep(), t -> new ArrayList<>()).add(m);
                }
            }
            groups.addAll(byTimestep.values());
        }
        int calls = 0;
        for (List<Member> group : groups) {
            runGroup(group);
            calls++;
        }
        for (Member m : List.copyOf(members)) {
            if (!m.generation.hasNextStep()) {
                finish(m);
            }
        }
        releaseUnusedSlots();
        return calls;
    }

    /** One shared UNet call over {@code group}'s rows, then each generation's guidance, scheduler step and listener. */
    private void runGroup(List<Member> group) {
        int rows = 0;
        List<Generation> generations = new ArrayList<>(group.size());
        for (Member m : group) {
            rows += m.generation.batchRows();
            generations.add(m.generation);
        }
        Slot slot;
        try {
            slot = slot(rows, group.get(0).generation);
            fillTextStates(slot, generations);
        } catch (OrtException | RuntimeException e) {
            group.forEach(m -> fail(m, e));
            return;
        }
        int rowSize = group.get(0).generation.rowSize();
        double[] timesteps = new double[rows];
        int row = 0;
        for (Member m : group) {
            Generation g = m.generation;
            if (m.loopStart < 0) {
                m.loopStart = System.nanoTime();
                m.loopInferenceStart = g.stats().runNanos();
            }
            g.putModelInput(slot.unet, row * rowSize);
            for (int i = 0; i < g.batchRows(); i++) {
                timesteps[row + i] = g.timestep();
            }
            row += g.batchRows();
        }
        long before = callStats.runNanos();
        try {
            slot.unet.run(timesteps, runOptions, callStats);
        } catch (OrtException | RuntimeException e) {
            group.forEach(m -> fail(m, e));
            return;
        }
        long nanos = callStats.runNanos() - before;
        row = 0;
        for (Member m : group) {
            Generation g = m.generation;
            g.stats().record(nanos);
            try {
                g.finishStep(slot.unet, row * rowSize, m.listener);
            } catch (OrtException | RuntimeException e) {
                fail(m, m.cancel.isCancelled() ? new GenerationCancelledException(g.stepsDone()) : e);
            }
            row += g.batchRows();
        }
    }

    /** The buffers for a call of {@code rows} rows of {@code like}'s latent size, allocated on first use. */
    private Slot slot(int rows, Generation like) throws OrtException {
        int scale = model.vaeScaleFactor();
        SlotKey key = new SlotKey(rows, like.request().height() / scale, like.request().width() / scale);
        Slot slot = slots.get(key);
        if (slot == null) {
            long[] shape = like.textStates().shape();
            NativeTensor states = NativeTensor.allocate(env, model.floatType(), rows, shape[1], shape[2]);
            try {
                slot = new Slot(states, model.unet().prepare(env, rows, model.latentChannels(), key.latentHeight(),
                        key.latentWidth(), states));
            } catch (OrtException | RuntimeException e) {
                states.close();
                throw e;
            }
            slots.put(key, slot);
        }
        slot.used = true;
        return slot;
    }

    /** Copies each generation's text states into its rows of the slot's, unless they are there already. */
    private static void fillTextStates(Slot slot, List<Generation> generations) {
        if (sameGenerations(slot.filledWith, generations)) {
            return;
        }
        slot.filledWith = List.of();
        int offset = 0;
        for (Generation g : generations) {
            NativeTensor own = g.textStates();
            slot.states.copyFrom(own, 0, offset, own.size());
            offset += own.size();
        }
        slot.filledWith = List.copyOf(generations);
    }

    private static boolean sameGenerations(List<Generation> a, List<Generation> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i) != b.get(i)) {
                return false;
            }
        }
        return true;
    }

    /** Frees the buffers of call sizes the last step did not use (the batch's make-up changed). */
    private void releaseUnusedSlots() {
        Iterator<Slot> it = slots.values().iterator();
        while (it.hasNext()) {
            Slot slot = it.next();
            if (!slot.used) {
                it.remove();
                slot.close();
            } else {
                slot.used = false;
            }
        }
    }

    /** Decodes a generation whose last step has run, frees it and completes its future. */
    private void finish(Member m) {
        members.remove(m);
        Generation g = m.generation;
        GenerationResult result;
        try {
            long loopEnd = System.nanoTime();
            GenerationResult.LoopTiming loop = m.loopStart < 0 ? new GenerationResult.LoopTiming(0, 0)
                    : new GenerationResult.LoopTiming(loopEnd - m.loopStart, g.stats().runNanos() - m.loopInferenceStart);
            List<GeneratedImage> images = g.decode(m.listener);
            result = g.result(images, loop, System.nanoTime() - m.start);
        } catch (OrtException | RuntimeException e) {
            fail(m, m.cancel.isCancelled() ? new GenerationCancelledException(g.stepsDone()) : e);
            return;
        }
        release(m);
        m.future.complete(result);
    }

    /** Removes a generation, frees it and fails its future with {@code e}. */
    private void fail(Member m, Throwable e) {
        members.remove(m);
        try {
            release(m);
        } catch (RuntimeException closing) {
            e.addSuppressed(closing);
        }
        m.future.completeExceptionally(e);
    }

    private static void release(Member m) {
        try {
            m.cancel.detach();
        } finally {
            m.generation.close();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the batched loop is closed");
        }
    }

    /**
     * Fails the future of every generation still held ({@link IllegalStateException}) and frees everything the loop
     * owns, once; later calls do nothing.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = new IllegalStateException("closing the batched loop failed");
        for (Member m : List.copyOf(members)) {
            fail(m, new IllegalStateException("the batched loop was closed before the generation finished"));
        }
        for (Slot slot : slots.values()) {
            try {
                slot.close();
            } catch (RuntimeException e) {
                failure.addSuppressed(e);
            }
        }
        slots.clear();
        try {
            runOptions.close();
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
        if (failure.getSuppressed().length > 0) {
            throw failure;
        }
    }
}
