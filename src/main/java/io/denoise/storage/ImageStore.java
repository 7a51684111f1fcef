package io.denoise.storage;

import io.minio.BucketExistsArgs;
import io.minio.GetObjectArgs;
import io.minio.GetPresignedObjectUrlArgs;
import io.minio.MakeBucketArgs;
import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import io.minio.RemoveObjectArgs;
import io.minio.errors.ErrorResponseException;
import io.minio.http.Method;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Images in an S3-compatible store (MinIO in production), at deterministic keys ({@code jobs/{jobId}/{index}.png},
 * init images at {@code jobs/{jobId}/init}), so a repeated write after a crash overwrites instead of duplicating.
 * Thread-safe.
 */
@ApplicationScoped
public class ImageStore implements ImageBucket {

    private static final Logger LOG = Logger.getLogger(ImageStore.class);

    @Inject
    StorageConfig config;

    private volatile MinioClient client;
    private volatile MinioClient signer;
    private volatile boolean bucketReady;

    /** The key of image {@code index} of a job; every key is under its tenant's prefix. */
    public static String imageKey(String tenant, UUID jobId, int index) {
        return tenantPrefix(tenant) + "jobs/" + jobId + "/" + index + ".png";
    }

    /** The key of a job's init image. */
    public static String initImageKey(String tenant, UUID jobId) {
        return tenantPrefix(tenant) + "jobs/" + jobId + "/init";
    }

    /** The key of a sweep's grid. */
    public static String sweepGridKey(String tenant, UUID sweepId) {
        return tenantPrefix(tenant) + "sweeps/" + sweepId + "/grid.png";
    }

    /** The key of a sweep's init image, which every cell reads. */
    public static String sweepInitImageKey(String tenant, UUID sweepId) {
        return tenantPrefix(tenant) + "sweeps/" + sweepId + "/init";
    }

    /** Where a tenant's objects live: a bucket policy or a lifecycle rule can address one tenant. */
    public static String tenantPrefix(String tenant) {
        return "tenants/" + tenant + "/";
    }

    /**
     * Best effort: removes an upload that nothing refers to (its job or sweep was never stored); a failure is only
     * logged, since an orphaned object costs storage and nothing else.
     */
    public void deleteQuietly(String key) {
        try {
            delete(key);
        } catch (StorageException | RuntimeException e) {
            LOG.warnf("could not remove %s, which nothing refers to: %s", key, e.getMessage());
        }
    }

    /** Stores an object, creating the bucket on first use. */
    @Override
    public void put(String key, byte[] bytes, String contentType) throws StorageException {
        try {
            ensureBucket();
            client().putObject(PutObjectArgs.builder().bucket(config.bucket()).object(key)
                    .stream(new ByteArrayInputStream(bytes), bytes.length, -1).contentType(contentType).build());
        } catch (Exception e) {
            throw new StorageException("cannot store " + key, e);
        }
    }

    /** Removes an object; removing one that is not there is no error. */
    public void delete(String key) throws StorageException {
        try {
            client().removeObject(RemoveObjectArgs.builder().bucket(config.bucket()).object(key).build());
        } catch (Exception e) {
            throw new StorageException("cannot delete " + key, e);
        }
    }

    /** Reads a whole object, or empty when there is none. */
    @Override
    public Optional<byte[]> get(String key) throws StorageException {
        try (InputStream in = client().getObject(GetObjectArgs.builder().bucket(config.bucket()).object(key).build())) {
            return Optional.of(in.readAllBytes());
        } catch (ErrorResponseException e) {
            if (e.errorResponse().code().equals("NoSuchKey") || e.errorResponse().code().equals("NoSuchBucket")) {
                return Optional.empty();
            }
            throw new StorageException("cannot read " + key, e);
        } catch (Exception e) {
            throw new StorageException("cannot read " + key, e);
        }
    }

    /** A time-limited GET URL for an object, at {@link StorageConfig#publicEndpoint()} when set. */
    public String presignedGet(String key, int seconds) throws StorageException {
        try {
            return signer().getPresignedObjectUrl(GetPresignedObjectUrlArgs.builder().method(Method.GET)
                    .bucket(config.bucket()).object(key).expiry(seconds, TimeUnit.SECONDS).build());
        } catch (Exception e) {
            throw new StorageException("cannot sign " + key, e);
        }
    }

    /** Creates the bucket if missing; idempotent. */
    public void ensureBucket() throws StorageException {
        if (bucketReady) {
            return;
        }
        try {
            MinioClient c = client();
            if (!c.bucketExists(BucketExistsArgs.builder().bucket(config.bucket()).build())) {
                c.makeBucket(MakeBucketArgs.builder().bucket(config.bucket()).region(config.region()).build());
            }
            bucketReady = true;
        } catch (ErrorResponseException e) {
            if (e.errorResponse().code().equals("BucketAlreadyOwnedByYou")) {
                bucketReady = true;
                return;
            }
            throw new StorageException("cannot create bucket " + config.bucket(), e);
        } catch (Exception e) {
            throw new StorageException("cannot create bucket " + config.bucket(), e);
        }
    }

    /** The client that signs URLs: one for the public endpoint (signing is local: the region is given), else {@link #client()}. */
    private MinioClient signer() {
        if (config.publicEndpoint().isEmpty()) {
            return client();
        }
        MinioClient s = signer;
        if (s == null) {
            synchronized (this) {
                if (signer == null) {
                    signer = MinioClient.builder().endpoint(config.publicEndpoint().get())
                            .credentials(config.accessKey(), config.secretKey()).region(config.region()).build();
                }
                s = signer;
            }
        }
        return s;
    }

    private MinioClient client() {
        MinioClient c = client;
        if (c == null) {
            synchronized (this) {
                if (client == null) {
                    MinioClient built = MinioClient.builder().endpoint(config.endpoint())
                            .credentials(config.accessKey(), config.secretKey()).region(config.region()).build();
                    long io = config.ioTimeout().toMillis();
                    built.setTimeout(config.connectTimeout().toMillis(), io, io);
                    client = built;
                }
                c = client;
            }
        }
        return c;
    }

    /** The store could not be reached or refused; usually transient. */
    public static final class StorageException extends Exception {
        public StorageException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
