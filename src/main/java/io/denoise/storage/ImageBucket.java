package io.denoise.storage;

import java.util.Optional;

/** Objects by key: what a worker reads (init images) and writes (results). {@link ImageStore} is the implementation. */
public interface ImageBucket {

    /** Stores {@code bytes} under {@code key}, replacing what was there (writes are idempotent). */
    void put(String key, byte[] bytes, String contentType) throws ImageStore.StorageException;

    /** The object under {@code key}, or empty when there is none. */
    Optional<byte[]> get(String key) throws ImageStore.StorageException;
}
