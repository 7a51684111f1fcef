package io.denoise.jobs;

/**
 * One stored image of a finished job.
 *
 * @param index position in the request
 * @param seed  the unsigned seed that regenerates it alone, as a decimal string
 * @param key   object key in the image bucket ({@code jobs/{jobId}/{index}.png})
 */
public record JobImage(int index, String seed, String key) {
}
