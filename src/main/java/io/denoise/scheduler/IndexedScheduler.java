package io.denoise.scheduler;

import java.util.OptionalInt;

/**
 * Base of the schedulers that track their position in the timesteps with a step index (diffusers'
 * {@code _step_index} / {@code _begin_index}): LMS, Euler, Euler ancestral, Heun, DPM-Solver, UniPC. The index is
 * initialised at the first {@code scale_model_input} or {@code step} of a generation, from the begin index when one
 * was set and otherwise by looking the timestep up.
 *
 * <p>Mutable, not thread-safe; see {@link Scheduler}.
 */
abstract class IndexedScheduler extends AbstractScheduler {

    private static final int UNSET = -1;

    /** Index of the current entry of {@link #timesteps}; {@link #UNSET} before the first call of a generation. */
    int stepIndex = UNSET;
    private int beginIndex = UNSET;

    IndexedScheduler(SchedulerConfig config, float[] alphasCumprod) {
        super(config, alphasCumprod);
    }

    @Override
    public void setBeginIndex(int beginIndex) {
        if (beginIndex < 0) {
            throw new IllegalArgumentException("beginIndex must not be negative, got " + beginIndex);
        }
        this.beginIndex = beginIndex;
    }

    @Override
    public OptionalInt beginIndex() {
        return beginIndex == UNSET ? OptionalInt.empty() : OptionalInt.of(beginIndex);
    }

    /** Forgets the step and begin index; part of every {@code setTimesteps}. */
    void resetIndices() {
        stepIndex = UNSET;
        beginIndex = UNSET;
    }

    /** Port of {@code _init_step_index}: the step index, initialised on first use. */
    int currentStepIndex(double timestep) {
        requireTimesteps();
        if (stepIndex == UNSET) {
            stepIndex = beginIndex != UNSET ? beginIndex : indexForTimestep(timestep);
        }
        return stepIndex;
    }

    /** The index {@code add_noise} reads sigmas at: by timestep, else the step index, else the begin index. */
    int addNoiseIndex(double timestep) {
        requireTimesteps();
        if (beginIndex == UNSET) {
            return indexForTimestep(timestep);
        }
        return stepIndex != UNSET ? stepIndex : beginIndex;
    }

    /** Diffusers' {@code index_for_timestep} of this scheduler. */
    abstract int indexForTimestep(double timestep);

    /**
     * Positions of {@code timestep} in the schedule: {@code [count, first, second]}.
     */
    int[] matches(double timestep) {
        int count = 0;
        int first = -1;
        int second = -1;
        for (int i = 0; i < timesteps.length; i++) {
            if (timesteps[i] == timestep) {
                if (count == 0) {
                    first = i;
                } else if (count == 1) {
                    second = i;
                }
                count++;
            }
        }
        return new int[] {count, first, second};
    }
}
