// Starts Swagger UI on the spec this app serves; loaded from the app itself (offline, strict CSP).
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
});
