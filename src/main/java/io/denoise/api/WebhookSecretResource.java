package io.denoise.api;

import io.denoise.auth.CurrentCaller;
import io.denoise.webhooks.WebhookSecrets;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The caller's tenant's webhook signing secret: read with a {@code jobs} key (the receiver needs it to verify),
 * replaced with an {@code admin} key.
 */
@Path("/v1")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "webhooks", description = "The secret webhook deliveries are signed with")
public class WebhookSecretResource {

    @Inject
    WebhookSecrets secrets;

    @Inject
    CurrentCaller caller;

    /** The secret, in the Standard Webhooks form a receiver's library takes. */
    public record Secret(
            @Schema(description = "whsec_ followed by the base64 of the 32-byte HMAC-SHA256 key") String secret) {
    }

    @GET
    @Path("/webhooks/secret")
    @Operation(operationId = "getWebhookSecret", summary = "The secret the caller's tenant's webhooks are signed with",
            description = "Made on first use. Verify a delivery by computing HMAC-SHA256 over "
                    + "'<webhook-id>.<webhook-timestamp>.<body>' with the base64-decoded part after whsec_, and "
                    + "comparing it with the base64 after 'v1,' in webhook-signature.")
    @APIResponse(responseCode = "200", description = "The secret",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = Secret.class)))
    public Secret get() {
        return new Secret(secrets.secret(caller.tenant()));
    }

    @POST
    @Path("/admin/webhooks/secret")
    @Operation(operationId = "rotateWebhookSecret", summary = "Replace the caller's tenant's webhook secret",
            description = "Every delivery tried from now on, retries included, is signed with the new secret.")
    @APIResponse(responseCode = "200", description = "The new secret",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = Secret.class)))
    public Secret rotate() {
        return new Secret(secrets.rotate(caller.tenant()));
    }
}
