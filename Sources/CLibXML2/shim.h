#include <libxml/xmlversion.h>
/* Keep ICU headers out: libxml2's encoding.h pulls in the system ICU, whose UErrorCode clashes with
   Foundation's private ICU copy. Only xmlCharEncodingHandler's ICU fields depend on this, and Sift never
   touches or allocates that struct. */
#undef LIBXML_ICU_ENABLED
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/encoding.h>
