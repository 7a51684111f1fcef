package io.denoise.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.auth.ApiKeys;
import io.denoise.auth.Scope;
import io.denoise.jobs.Priority;
import io.denoise.recipe.InvalidRequestException;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.io.InputStream;
import java.net.URI;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/** {@code /v1/admin/keys}: API keys, for keys with the {@code admin} scope (what the {@code keys} command does). */
@Path("/v1/admin/keys")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "admin", description = "API keys (admin scope)")
public class KeysResource {

    @Inject
    ApiKeys keys;

    @Inject
    ObjectMapper json;

    /** A new key's body. */
    public record KeyRequest(
            @Schema(description = "The tenant the key belongs to: 1 to 64 of a-z, 0-9, - and _", required = true) String tenant,
            @Schema(description = "Whether the key may also manage keys (default false: jobs only)") Boolean admin,
            @Schema(description = "The highest priority the key's jobs may ask for (default normal)",
                    enumeration = {"low", "normal", "high"}) String maxPriority) {
    }

    /** The listing. */
    public record Keys(List<ApiKeys.KeyInfo> keys) {
    }

    /** A new key: shown this once. */
    public record CreatedKey(String key, ApiKeys.KeyInfo info) {
    }

    @GET
    @Operation(operationId = "listKeys", summary = "Every API key (never the key itself), revoked ones included")
    @APIResponse(responseCode = "200", description = "The keys",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = Keys.class)))
    public Keys list() {
        return new Keys(keys.list());
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(operationId = "createKey", summary = "Create an API key; the answer is the only time the key is shown")
    @RequestBody(required = true, content = @Content(mediaType = MediaType.APPLICATION_JSON,
            schema = @Schema(implementation = KeyRequest.class),
            examples = @ExampleObject(name = "a tenant's key", value = "{\"tenant\":\"acme\"}")))
    @APIResponse(responseCode = "201", description = "The key and its listing",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = CreatedKey.class)))
    @APIResponse(responseCode = "400", description = "A bad tenant or admin field (invalid_request naming it)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public Response create(InputStream body) {
        JsonNode node = JobResource.parse(json, body);
        if (!node.isObject()) {
            throw new InvalidRequestException("body", "must be a JSON object");
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!name.equals("tenant") && !name.equals("admin") && !name.equals("maxPriority")) {
                throw new InvalidRequestException(JobRequestValidator.printable(name), "is not a field of a key request");
            }
        }
        JsonNode tenant = node.get("tenant");
        if (tenant == null || !tenant.isTextual()) {
            throw new InvalidRequestException("tenant", "is required: 1 to 64 of a-z, 0-9, - and _");
        }
        JsonNode admin = node.get("admin");
        if (admin != null && !admin.isBoolean() && !admin.isNull()) {
            throw new InvalidRequestException("admin", "must be true or false");
        }
        JsonNode priority = node.get("maxPriority");
        Priority maxPriority = priority == null || priority.isNull() ? Priority.NORMAL
                : Priority.parse(priority.isTextual() ? priority.textValue() : "").orElseThrow(() ->
                        new InvalidRequestException("maxPriority", "must be low, normal or high"));
        Set<Scope> scopes = admin != null && admin.asBoolean() ? EnumSet.of(Scope.JOBS, Scope.ADMIN) : EnumSet.of(Scope.JOBS);
        ApiKeys.Created created = keys.create(tenant.asText(), scopes, maxPriority);
        return Response.created(URI.create("/v1/admin/keys/" + created.info().id()))
                .entity(new CreatedKey(created.key(), created.info())).build();
    }

    @DELETE
    @Path("/{id}")
    @Operation(operationId = "revokeKey", summary = "Revoke a key: refused on every replica within denoise.auth.cache-ttl (2 s)")
    @APIResponse(responseCode = "200", description = "The key, revoked",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ApiKeys.KeyInfo.class)))
    @APIResponse(responseCode = "404", description = "No such key (not_found)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorBody.class)))
    public ApiKeys.KeyInfo revoke(@PathParam("id") String id) {
        UUID keyId;
        try {
            keyId = UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            throw new NotFoundException("no key " + id);
        }
        return keys.revoke(keyId).orElseThrow(() -> new NotFoundException("no key " + id));
    }
}
