/* GET /v1/models (SPEC 2.3): every model this configuration can serve. */
#include "model.h"
#include "route.h"

enum img_err models_list(struct ctx *c)
{
	model_list_json(&c->app->cfg, &c->rp->body);
	buf_putc(&c->rp->body, '\n');
	return IMG_OK;
}
