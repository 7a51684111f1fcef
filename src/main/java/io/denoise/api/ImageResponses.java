package io.denoise.api;

import io.denoise.storage.ImageStore;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;

import java.net.URI;

/** A stored PNG as an answer: its bytes (immutable, so cached for good), or a redirect to a presigned URL. */
final class ImageResponses {

    /** How long a presigned URL stays valid. */
    static final int PRESIGNED_SECONDS = 600;

    private ImageResponses() {
    }

    static Response png(ImageStore images, String key, boolean redirect) throws ImageStore.StorageException {
        if (redirect) {
            return Response.temporaryRedirect(URI.create(images.presignedGet(key, PRESIGNED_SECONDS))).build();
        }
        byte[] png = images.get(key).orElseThrow(() -> new NotFoundException(key + " is missing from the store"));
        StreamingOutput body = out -> out.write(png);
        return Response.ok(body, "image/png").header("Cache-Control", "public, max-age=31536000, immutable").build();
    }
}
